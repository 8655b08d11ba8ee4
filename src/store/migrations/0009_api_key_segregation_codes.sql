-- API keys limited to some segregation codes of their creditors (the first two digits of the
-- IUVs they may touch). NULL: every code, which is what the keys stored before this have.
-- Otherwise the codes, sorted and comma-separated: "01,02".

ALTER TABLE api_key ADD COLUMN segregation_codes TEXT
    CHECK (segregation_codes IS NULL OR segregation_codes GLOB '[0-9][0-9]*');

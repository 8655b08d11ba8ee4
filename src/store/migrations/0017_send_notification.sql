-- Payment options notified through SEND: their notification fee is asked of SEND's price API
-- when the Node asks for the payment (platform::send). Set by the position's JSON or by
-- POST /internal/config/send, never cleared, as GPD's send_sync.
ALTER TABLE payment_option ADD COLUMN send_sync INTEGER NOT NULL DEFAULT 0;

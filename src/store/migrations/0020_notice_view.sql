-- The Node's lookups read one row per payment option, keyed by its notice number, in one index
-- descent: the option, its position's header and what the payability rules read of the sibling
-- options, encoded by src/store/notice_row.rs. The store writes the rows with the position;
-- these triggers drop them whenever what they copy changes, in the same transaction, so that a
-- row is either fresh or absent (and a lookup without a row reads the tables).
CREATE TABLE notice_view (
    organization TEXT NOT NULL,
    nav          TEXT NOT NULL,
    body         BLOB NOT NULL,
    PRIMARY KEY (organization, nav)
) WITHOUT ROWID;

-- Positions stored before this migration get their rows at open, in batches by row id from
-- `next_position` on; the row is deleted once done.
CREATE TABLE notice_view_backfill (next_position INTEGER NOT NULL);
INSERT INTO notice_view_backfill VALUES (0);

-- The position's columns a row copies.
CREATE TRIGGER notice_view_position_update AFTER UPDATE OF organization, iupd, inserted_date,
    version, status, company_name, office_name, debtor_type, debtor_fiscal_code,
    debtor_full_name, street_name, civic_number, postal_code, city, province, region, country,
    email, phone, switch_to_expired, pay_stand_in, validity_date, publish_date, payment_date,
    last_updated_date, expires_after, retained_until, personal_data_erased_at ON debt_position
BEGIN
    DELETE FROM notice_view WHERE organization = OLD.organization
        AND nav IN (SELECT nav FROM payment_option WHERE position_id = OLD.id);
END;

-- Before: its options go with it.
CREATE TRIGGER notice_view_position_delete BEFORE DELETE ON debt_position
BEGIN
    DELETE FROM notice_view WHERE organization = OLD.organization
        AND nav IN (SELECT nav FROM payment_option WHERE position_id = OLD.id);
END;

-- An option's change also changes what its siblings' rows say of it.
CREATE TRIGGER notice_view_option_insert AFTER INSERT ON payment_option
BEGIN
    DELETE FROM notice_view WHERE organization = NEW.organization
        AND nav IN (SELECT nav FROM payment_option WHERE position_id = NEW.position_id);
END;

CREATE TRIGGER notice_view_option_update AFTER UPDATE ON payment_option
BEGIN
    DELETE FROM notice_view WHERE organization = OLD.organization
        AND (nav = OLD.nav OR nav IN (SELECT nav FROM payment_option WHERE position_id = OLD.position_id));
    DELETE FROM notice_view WHERE organization = NEW.organization
        AND nav IN (SELECT nav FROM payment_option WHERE position_id = NEW.position_id);
END;

CREATE TRIGGER notice_view_option_delete AFTER DELETE ON payment_option
BEGIN
    DELETE FROM notice_view WHERE organization = OLD.organization
        AND (nav = OLD.nav OR nav IN (SELECT nav FROM payment_option WHERE position_id = OLD.position_id));
END;

CREATE TRIGGER notice_view_transfer_insert AFTER INSERT ON transfer
BEGIN
    DELETE FROM notice_view WHERE (organization, nav) IN
        (SELECT organization, nav FROM payment_option WHERE id = NEW.option_id);
END;

CREATE TRIGGER notice_view_transfer_update AFTER UPDATE ON transfer
BEGIN
    DELETE FROM notice_view WHERE (organization, nav) IN
        (SELECT organization, nav FROM payment_option WHERE id IN (OLD.option_id, NEW.option_id));
END;

CREATE TRIGGER notice_view_transfer_delete AFTER DELETE ON transfer
BEGIN
    DELETE FROM notice_view WHERE (organization, nav) IN
        (SELECT organization, nav FROM payment_option WHERE id = OLD.option_id);
END;

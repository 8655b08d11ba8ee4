-- The event journal moves to a file of its own, attached to every connection as `journal`,
-- where the store creates its table before migrating (src/store/sqlite/journal_file.sql). A
-- commit of journal entries then leaves this file as it is, and the readers their page caches.
-- OR IGNORE: the two files commit separately; were the copy kept in the journal's file but
-- not the drop here, the next open copies again what is already there.
INSERT OR IGNORE INTO journal.event_journal SELECT * FROM main.event_journal;
DROP TABLE main.event_journal;

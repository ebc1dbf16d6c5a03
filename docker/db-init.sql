-- Run once by the postgres image when it creates its data volume
-- (/docker-entrypoint-initdb.d). POSTGRES_USER `gridwatch` owns the schema and
-- runs the migrations; central runs as `gridwatch_app`, which central-setup
-- grants read and write on the tables but only SELECT and INSERT on audit_log
-- (`gridwatch central migrate --grant-app-role`; docs/security.md "Central's
-- database role"). An older data volume lacks this role: run this file there
-- by hand (psql -U gridwatch -f docker/db-init.sql).
CREATE ROLE gridwatch_app LOGIN PASSWORD 'gridwatch-app';

-- 0006_throttle (SQLite): nothing. On SQLite one process serves the
-- database and counts failed attempts in memory (grants/throttle.c); the
-- PostgreSQL twin (migrations/postgresql/0006_throttle.sql) makes the
-- table through which every instance counts them. This file keeps the two
-- dialects' schema versions in step. Never edit once released.
SELECT 1;

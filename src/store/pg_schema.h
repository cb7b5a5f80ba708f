/*
 * The PostgreSQL schema of vcpd as a list of migrations.
 *
 * A database records in its schema_version table the steps of
 * store_pg_migrations it has applied (one row per step); opening it applies
 * the rest, each in its own transaction under a transaction-level advisory
 * lock, so several vcpd instances and the admin CLI may open a fresh
 * database at the same moment.  Steps are never edited once released: a
 * schema change appends a step.
 */
#ifndef VCP_STORE_PG_SCHEMA_H
#define VCP_STORE_PG_SCHEMA_H

#include <stddef.h>

/* Step i takes a database from schema version i to i + 1. */
extern const char *const store_pg_migrations[];

/* Number of steps: the version of an up-to-date database. */
extern const size_t store_pg_migrations_n;

#endif

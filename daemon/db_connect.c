/*
 * Blocking connections built from the configuration, for the admin tool and for the
 * daemon's start-up schema check. The event loop never uses these.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "db.h"

PGconn *
db_connect_blocking(const struct config *cfg, const char *application_name, char *err,
    size_t errlen)
{
	const char	*keys[6], *values[6];
	char		 timeout[24];
	PGconn		*pg = NULL;
	PGresult	*res;
	int		 n = 0;

	snprintf(timeout, sizeof(timeout), "%lld", config_int(cfg, CFG_DB_CONNECT_TIMEOUT));
	/* dbname first: with expand_dbname it may be a whole conninfo string, and the
	   keywords after it override what it says. */
	keys[n] = "dbname";		values[n++] = config_str(cfg, CFG_DB_CONNINFO);
	keys[n] = "connect_timeout";	values[n++] = timeout;
	keys[n] = "application_name";	values[n++] = application_name;
	keys[n] = "client_encoding";	values[n++] = "UTF8";
	if (config_secret(cfg, CFG_DB_PASSWORD_FILE) != NULL) {
		keys[n] = "password";
		values[n++] = config_secret(cfg, CFG_DB_PASSWORD_FILE);
	}
	keys[n] = NULL;
	values[n] = NULL;

	if ((pg = PQconnectdbParams(keys, values, 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (PQstatus(pg) != CONNECTION_OK) {
		const char *msg = PQerrorMessage(pg);
		size_t len = strcspn(msg, "\n");

		snprintf(err, errlen, "cannot connect to the database: %.*s", (int)len, msg);
		PQfinish(pg);
		return NULL;
	}
	/* The admin tool sees every agency's rows, also as the (non-superuser) owner of
	   tables whose row-level security is FORCE'd. */
	res = PQexec(pg, "SELECT set_config('ictmon.scope', 'all', false)");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *msg = PQerrorMessage(pg);
		size_t len = strcspn(msg, "\n");

		snprintf(err, errlen, "cannot set the row scope: %.*s", (int)len, msg);
		PQclear(res);
		PQfinish(pg);
		return NULL;
	}
	PQclear(res);
	return pg;
}

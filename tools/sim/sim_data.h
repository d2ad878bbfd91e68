/* sim_data.h: realistic names for events: countries and registries, products, errors, ids. */
#ifndef SIM_DATA_H
#define SIM_DATA_H

#include <stddef.h>

#include "sim_rand.h"

struct sim_country {
    const char *code;   /* ISO 3166-1 alpha-2 */
    const char *source; /* the registry that verifies its HCPs */
    unsigned weight;    /* share of the HCPs */
};

struct sim_failure {
    const char *text; /* the `error` field of license.<batch>.failed */
    unsigned weight;  /* how common it is among failures */
    double factor;    /* duration relative to a normal assignment... */
    double fixed_ms;  /* ...or, when > 0, this fixed duration (a timeout) */
};

/* A country picked by weight (the US, Germany and France are the most common). */
const struct sim_country *sim_data_country(struct sim_rand *r);
/* A product name such as "MedSuite Pro", picked by weight. */
const char *sim_data_product(struct sim_rand *r);
/* A failure cause, picked by weight. */
const struct sim_failure *sim_data_failure(struct sim_rand *r);
/* Verification outcomes: 0 "verified" (85 %), 1 "rejected" (7 %), 2 "pending" (8 %). */
#define SIM_DATA_STATUSES 3
/* A verification outcome picked by weight, as an index for sim_data_status_name. */
int sim_data_status(struct sim_rand *r);
const char *sim_data_status_name(int status);
/* An HCP id such as "HCP-FR-8812345" for the given country. */
void sim_data_hcp_id(char *buf, size_t len, const char *country, struct sim_rand *r);
/* A license id such as "LIC-000123". */
void sim_data_license_id(char *buf, size_t len, unsigned number);

#endif

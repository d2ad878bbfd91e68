/* sim_data.c: the tables behind realistic simulated events. */
#include "sim_data.h"

#include <stdio.h>

#define SIM_DATA_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const struct sim_country sim_data_countries[] = {
    {"US", "NPPES", 200},
    {"DE", "Bundesaerztekammer", 90},
    {"FR", "RPPS", 80},
    {"GB", "GMC", 70},
    {"IT", "FNOMCeO", 60},
    {"ES", "CGCOM", 50},
    {"JP", "MHLW", 50},
    {"CA", "CPSO", 40},
    {"BR", "CFM", 40},
    {"IN", "NMC", 35},
    {"CN", "NHC", 30},
    {"AU", "AHPRA", 30},
    {"NL", "BIG-register", 25},
    {"BE", "RIZIV-INAMI", 20},
    {"CH", "MedReg", 20},
    {"AT", "Aerztekammer", 15},
    {"SE", "Socialstyrelsen", 15},
    {"PL", "NIL", 15},
    {"MX", "SEP-Cedula", 15},
    {"KR", "KHPLC", 15},
    {"NO", "HPR", 10},
    {"DK", "STPS", 10},
    {"FI", "Valvira", 10},
    {"PT", "Ordem dos Medicos", 10},
    {"IE", "Medical Council", 10},
    {"ZA", "HPCSA", 10},
    {"NZ", "MCNZ", 8},
    {"SG", "SMC", 8},
    {"IL", "MOH", 8},
    {"TR", "TTB", 8},
    {"GR", "PIS", 6},
    {"CZ", "CLK", 6},
    {"HU", "ENKK", 5},
    {"RO", "CMR", 5},
    {"AR", "REFEPS", 5},
    {"CO", "RETHUS", 5},
    {"SA", "SCFHS", 5},
    {"AE", "DHA", 5},
};

struct sim_data_named {
    const char *name;
    unsigned weight;
};

static const struct sim_data_named sim_data_products[] = {
    {"MedSuite Pro", 30}, {"MedSuite Lite", 20},       {"RxInsight", 12},
    {"CardioView", 10},   {"PharmaConnect", 10},       {"OncoTrack Enterprise", 8},
    {"ClinData Hub", 6},  {"NeuroScope Analytics", 4},
};

static const struct sim_data_named sim_data_statuses[SIM_DATA_STATUSES] = {
    {"verified", 85},
    {"rejected", 7},
    {"pending", 8},
};

static const struct sim_failure sim_data_failures[] = {
    {"HCP not found in national registry", 30, 0.8, 0},
    {"license pool exhausted for product", 15, 0.2, 0},
    {"registry timeout after 30s", 15, 0, 30000},
    {"duplicate assignment rejected", 15, 0.3, 0},
    {"HCP license suspended", 10, 0.9, 0},
    {"HCP specialty not eligible for product", 10, 0.6, 0},
    {"registry returned HTTP 503", 5, 0.5, 0},
};

const struct sim_country *sim_data_country(struct sim_rand *r)
{
    int i = sim_rand_weighted(r, &sim_data_countries[0].weight, SIM_DATA_COUNT(sim_data_countries),
                              sizeof sim_data_countries[0]);
    return &sim_data_countries[i];
}

const char *sim_data_product(struct sim_rand *r)
{
    int i = sim_rand_weighted(r, &sim_data_products[0].weight, SIM_DATA_COUNT(sim_data_products),
                              sizeof sim_data_products[0]);
    return sim_data_products[i].name;
}

const struct sim_failure *sim_data_failure(struct sim_rand *r)
{
    int i = sim_rand_weighted(r, &sim_data_failures[0].weight, SIM_DATA_COUNT(sim_data_failures),
                              sizeof sim_data_failures[0]);
    return &sim_data_failures[i];
}

int sim_data_status(struct sim_rand *r)
{
    return sim_rand_weighted(r, &sim_data_statuses[0].weight, SIM_DATA_STATUSES,
                             sizeof sim_data_statuses[0]);
}

const char *sim_data_status_name(int status)
{
    return sim_data_statuses[status].name;
}

void sim_data_hcp_id(char *buf, size_t len, const char *country, struct sim_rand *r)
{
    snprintf(buf, len, "HCP-%s-%07u", country, 1000000u + sim_rand_below(r, 9000000u));
}

void sim_data_license_id(char *buf, size_t len, unsigned number)
{
    snprintf(buf, len, "LIC-%06u", number);
}

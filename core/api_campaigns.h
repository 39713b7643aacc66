/*
 * api_campaigns.h - what the two /v1/campaigns files share
 * (api_campaigns.c: CRUD and routing; api_campaign_ops.c: the
 * lifecycle actions, stats and attaching leads).
 */
#ifndef CXI_API_CAMPAIGNS_H
#define CXI_API_CAMPAIGNS_H

#include "api_int.h"

#define CAMPAIGNS_PATH "/v1/campaigns/"

/* The campaign as the API shows it. */
json_t *cxi_campaign_view(const json_t *row);
/* The account's campaign (404 / 503 set and NULL otherwise); db held
 * by the caller. */
json_t *cxi_api_campaign_get(cxi_actx *c, const cxi_db *db, const char *id);
/* Wakes the dialer, when the calling runtime runs. */
void cxi_api_dialer_kick(cxi_actx *c);

/* POST /v1/campaigns/{id}/start|pause|resume|cancel */
void cxi_api_campaign_action(cxi_actx *c, const char *id,
    const char *action);
/* GET /v1/campaigns/{id}/stats */
void cxi_api_campaign_stats(cxi_actx *c, const char *id);
/* POST /v1/campaigns/{id}/leads */
void cxi_api_campaign_leads(cxi_actx *c, const char *id);

#endif

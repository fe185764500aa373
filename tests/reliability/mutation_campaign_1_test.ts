/** The mutation campaign, shard 1 of 2 (`mutation_campaign.ts`). */
import { campaignIgnore, runCampaignShard, SHARDS } from "./mutation_campaign.ts";

Deno.test({
  name:
    `mutation campaign (shard 1/${SHARDS}): every mutant of the real signatures and attestations is rejected`,
  ignore: campaignIgnore,
  fn: () => runCampaignShard(0),
});

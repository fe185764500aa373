/**
 * Crash safety, the `login` part of the campaign (`crash_campaign.ts`
 * says what is checked after every kill and how to reproduce a case).
 */
import { CRASH_SEED, CRASH_TEST_OPTIONS, crashCampaign } from "./crash_campaign.ts";

Deno.test({
  ...CRASH_TEST_OPTIONS,
  name:
    `crash safety: kill -9 during login at seeded moments and mutations; the auth file is never torn (seed ${CRASH_SEED})`,
  fn: () => crashCampaign("login"),
});

import assert from "node:assert/strict";
import { UsageError } from "../../errors/errors.ts";
import { describePkcs11Key, isPkcs11Uri, MODULE_PATH_ENV, parsePkcs11Uri } from "./uri.ts";
import { exitStatusOf } from "../../cli/exit_codes.ts";

const MOD = "/usr/lib/softhsm/libsofthsm2.so";
const PIN = "sEcReT-4821";
const noEnv = () => undefined;

Deno.test("pkcs11 uri: cosign's example parses", () => {
  const u = parsePkcs11Uri(
    `pkcs11:token=dz;slot-id=3;object=signing;id=%01?module-path=${MOD}&pin-value=1234`,
    noEnv,
  );
  assert.equal(u.token, "dz");
  assert.equal(u.slotId, 3n);
  assert.deepEqual(u.object, new TextEncoder().encode("signing"));
  assert.deepEqual(u.id, Uint8Array.of(1));
  assert.equal(u.modulePath, MOD);
  assert.equal(u.pinValue, "1234");
  assert.equal(u.pinSource, undefined);
});

Deno.test("pkcs11 uri: percent-decoding, binary ids, pin-source, extra token attributes", () => {
  const u = parsePkcs11Uri(
    "PKCS11:token=My%20Token;id=%69%95%3E%5C%F4%BD%EC%91;object=cl%C3%A9;serial=DECC0401648;" +
      `manufacturer=SoftHSM%20project;model=SoftHSM%20v2?module-path=${MOD}&pin-source=file:/etc/pin` +
      "&x-vendor=whatever",
    noEnv,
  );
  assert.equal(u.token, "My Token");
  assert.deepEqual(u.id, Uint8Array.of(0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd, 0xec, 0x91));
  assert.equal(new TextDecoder().decode(u.object), "clé");
  assert.equal(u.serial, "DECC0401648");
  assert.equal(u.manufacturer, "SoftHSM project");
  assert.equal(u.model, "SoftHSM v2");
  assert.equal(u.pinSource, "file:/etc/pin");
  assert.equal(describePkcs11Key(u), "key 'clé' id 69:95:3e:5c:f4:bd:ec:91");
});

Deno.test("pkcs11 uri: module path falls back to COSIGN_PKCS11_MODULE_PATH, the URI wins", () => {
  const env = (n: string) => (n === MODULE_PATH_ENV ? "/opt/p11/module.so" : undefined);
  assert.equal(parsePkcs11Uri("pkcs11:token=t;object=k", env).modulePath, "/opt/p11/module.so");
  assert.equal(parsePkcs11Uri(`pkcs11:token=t;object=k?module-path=${MOD}`, env).modulePath, MOD);
});

Deno.test("pkcs11 uri: isPkcs11Uri", () => {
  assert.ok(isPkcs11Uri("pkcs11:token=x"));
  assert.ok(isPkcs11Uri("PKCS11:token=x"));
  assert.ok(!isPkcs11Uri("cosign.key"));
  assert.ok(!isPkcs11Uri("./pkcs11:token"));
});

Deno.test("pkcs11 uri: malformed URIs are usage errors that never echo the PIN", () => {
  const q = `?module-path=${MOD}&pin-value=${PIN}`;
  const cases: [string, RegExp][] = [
    [`file:token=t;object=k${q}`, /does not start with 'pkcs11:'/],
    [`pkcs11:object=k${q}`, /one of token= and slot-id=/],
    [`pkcs11:token=t${q}`, /one of object= and id=/],
    [`pkcs11:token=t;object=${q}`, /one of object= and id=/],
    [`pkcs11:token=t;object=k?pin-value=${PIN}`, /module-path=/],
    [`pkcs11:token=t;object=k?module-path=lib.so&pin-value=${PIN}`, /not an absolute path/],
    [`pkcs11:slot-id=abc;object=k${q}`, /slot-id 'abc' is not a valid number/],
    [`pkcs11:slot-id=-1;object=k${q}`, /is not a valid number/],
    [`pkcs11:slot-id=99999999999999999999;object=k${q}`, /is not a valid number/],
    [`pkcs11:token=t;token=u;object=k${q}`, /'token' appears twice/],
    [`pkcs11:token=t;object=k%zz${q}`, /malformed %-escape/],
    [`pkcs11:token=t;object=k%4${q}`, /malformed %-escape/],
    [`pkcs11:token=%FF;object=k${q}`, /not valid UTF-8/],
    [`pkcs11:token=t;object=k;colour=red${q}`, /unknown path attribute 'colour'/],
    [`pkcs11:token=t;object=k;library-version=3${q}`, /'library-version' is not supported/],
    [`pkcs11:token=t;object=k;type=public${q}`, /type=public cannot sign/],
    [`pkcs11:token=t;object=k;justtext${q}`, /'justtext' is not NAME=VALUE/],
    [`pkcs11:token=t;object=k?module-name=softhsm2&pin-value=${PIN}`, /module-name is not/],
    [`pkcs11:token=t;object=k${q}&pin-source=/etc/pin`, /pin-value or pin-source/],
    [`pkcs11:token=t;object=k${q}#frag`, /fragments/],
    [`pkcs11:token=t;object=k?module-path=${MOD}&${PIN}`, /a query item is not NAME=VALUE/],
    [`pkcs11:token=t;object=k?module-path=${MOD}&pin-value=${PIN}%zz`, /malformed %-escape/],
  ];
  for (const [uri, re] of cases) {
    assert.throws(
      () => parsePkcs11Uri(uri, noEnv),
      (e: unknown) => {
        assert.ok(e instanceof UsageError, uri);
        assert.equal(exitStatusOf(e), 2);
        assert.match(e.message, re, uri);
        assert.ok(!`${e.message} ${e.hint}`.includes(PIN), `PIN leaked for ${uri}`);
        return true;
      },
    );
  }
});

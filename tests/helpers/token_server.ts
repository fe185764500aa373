/**
 * Test-only Docker token service (the one fake the registry tests allow:
 * the real CNCF distribution registry needs an external token issuer).
 *
 * It implements the Docker registry token protocol
 * (`GET REALM?service=…&scope=repository:NAME:pull,push`, optional Basic
 * credentials) and answers `{"token", "access_token", "expires_in"}` with an
 * ES256 JWT. The JWT header carries the signing certificate in `x5c`; that
 * self-signed certificate is the registry's `rootcertbundle`, so
 * distribution's `registry/auth/token` verification (issuer, audience,
 * nbf/exp, x5c chain to the root bundle, ES256 signature) accepts it.
 *
 * Policy: anonymous clients get `pull` only (if {@linkcode TokenServerOptions.anonymousPull});
 * the configured user gets every action asked; wrong credentials get 401.
 *
 * @module
 */

// @peculiar/x509 (via tsyringe) needs the Reflect metadata polyfill loaded first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

/** One request seen by the token server. */
export interface TokenRequestRecord {
  /** Basic-auth username, or null when anonymous. */
  user: string | null;
  /** The `service` query parameter. */
  service: string | null;
  /** Raw `scope` parameters, in order. */
  scopes: string[];
  /** HTTP status the server answered. */
  status: number;
}

/** Options for {@linkcode startTokenServer}. */
export interface TokenServerOptions {
  /** The only user allowed to push (default "dz-user"). */
  username?: string;
  /** That user's password (default "dz-pass"). */
  password?: string;
  /** `aud` claim / registry `service` (default "dz-test-registry"). */
  service?: string;
  /** `iss` claim / registry `issuer` (default "dz-test-token-issuer"). */
  issuer?: string;
  /** Grant `pull` to anonymous clients (default true). */
  anonymousPull?: boolean;
  /** Token lifetime in seconds (default 300). */
  expiresIn?: number;
}

/** A running token server; stop it (or `await using`) when done. */
export interface TokenServer extends AsyncDisposable {
  /** Token endpoint URL, e.g. `http://127.0.0.1:PORT/token` (the registry `realm`). */
  realm: string;
  /** Service name expected in `aud` (the registry `service`). */
  service: string;
  /** Issuer name in `iss` (the registry `issuer`). */
  issuer: string;
  /** PEM of the self-signed ES256 certificate (the registry `rootcertbundle`). */
  certPem: string;
  /** Username allowed to push. */
  username: string;
  /** Password of {@linkcode TokenServer.username}. */
  password: string;
  /** Number of token requests served so far (any status). */
  readonly requests: number;
  /** Every `scope` value asked so far, in order (flattened). */
  readonly scopes: string[];
  /** Per-request log. */
  readonly log: TokenRequestRecord[];
  /** Mint a token directly (no request counted), e.g. for negative tests. */
  mint(access: TokenAccess[], subject?: string): Promise<string>;
  /** Shut the server down. */
  stop(): Promise<void>;
}

/** An `access` entry of a distribution token. */
export interface TokenAccess {
  type: string;
  name: string;
  actions: string[];
}

const encoder = new TextEncoder();

function b64url(data: Uint8Array | string): string {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function derToBase64(der: ArrayBuffer): string {
  let bin = "";
  for (const b of new Uint8Array(der)) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Parse `type:name:actions` (the name may itself contain colons). */
export function parseScope(scope: string): TokenAccess | null {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first <= 0 || last === first) return null;
  const actions = scope.slice(last + 1).split(",").filter((a) => a !== "");
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions };
}

function parseBasic(header: string | null): { user: string; pass: string } | null | "bad" {
  if (header === null) return null;
  const m = /^Basic\s+(\S+)$/i.exec(header);
  if (!m) return "bad";
  let decoded: string;
  try {
    decoded = atob(m[1]);
  } catch {
    return "bad";
  }
  const i = decoded.indexOf(":");
  if (i < 0) return "bad";
  return { user: decoded.slice(0, i), pass: decoded.slice(i + 1) };
}

/** Start the token server on a free loopback port. */
export async function startTokenServer(opts: TokenServerOptions = {}): Promise<TokenServer> {
  const username = opts.username ?? "dz-user";
  const password = opts.password ?? "dz-pass";
  const service = opts.service ?? "dz-test-registry";
  const issuer = opts.issuer ?? "dz-test-token-issuer";
  const anonymousPull = opts.anonymousPull ?? true;
  const expiresIn = opts.expiresIn ?? 300;

  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
  const keys = await crypto.subtle.generateKey(alg, false, ["sign", "verify"]);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01" + crypto.randomUUID().replaceAll("-", "").slice(0, 14),
    name: "CN=dz test token issuer",
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 24 * 3600_000),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
    ],
  });
  const certPem = cert.toString("pem");
  const x5c = [derToBase64(cert.rawData)];

  async function mint(access: TokenAccess[], subject = ""): Promise<string> {
    const iat = Math.floor(Date.now() / 1000);
    const header = { typ: "JWT", alg: "ES256", x5c };
    const claims = {
      iss: issuer,
      sub: subject,
      aud: service,
      exp: iat + expiresIn,
      nbf: iat - 10,
      iat,
      jti: crypto.randomUUID(),
      access,
    };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    // WebCrypto ECDSA signatures are already the JWS r||s (IEEE P1363) form.
    const sig = await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      keys.privateKey,
      encoder.encode(signingInput),
    );
    return `${signingInput}.${b64url(new Uint8Array(sig))}`;
  }

  let requests = 0;
  const scopes: string[] = [];
  const log: TokenRequestRecord[] = [];

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname !== "/token") return new Response("not found\n", { status: 404 });
    requests++;
    const asked = url.searchParams.getAll("scope").flatMap((s) => s.split(" ")).filter((s) =>
      s !== ""
    );
    scopes.push(...asked);
    const record: TokenRequestRecord = {
      user: null,
      service: url.searchParams.get("service"),
      scopes: asked,
      status: 200,
    };
    log.push(record);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      return Response.json(body, { status, headers });
    };
    if (req.method !== "GET") return reply(405, { errors: [{ code: "UNSUPPORTED" }] });
    if (record.service !== null && record.service !== service) {
      return reply(400, { errors: [{ code: "DENIED", message: "unknown service" }] });
    }
    const creds = parseBasic(req.headers.get("authorization"));
    if (creds !== null) {
      record.user = creds === "bad" ? "" : creds.user;
      if (creds === "bad" || creds.user !== username || creds.pass !== password) {
        return reply(401, { errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] }, {
          "www-authenticate": `Basic realm="dz-test-token"`,
        });
      }
    }
    const authed = creds !== null;
    const access: TokenAccess[] = [];
    for (const s of asked) {
      const parsed = parseScope(s);
      if (parsed === null) continue;
      const granted = authed
        ? parsed.actions
        : parsed.type === "repository" && anonymousPull
        ? parsed.actions.filter((a) => a === "pull")
        : [];
      if (granted.length > 0) access.push({ ...parsed, actions: granted });
    }
    const token = await mint(access, authed ? username : "");
    return reply(200, {
      token,
      access_token: token,
      expires_in: expiresIn,
      issued_at: new Date().toISOString(),
    });
  }

  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      onListen: (addr) => resolve(addr),
      onError: () => new Response("error", { status: 500 }),
    },
    handle,
  );
  const addr = await listening;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.shutdown();
  };

  return {
    realm: `http://127.0.0.1:${addr.port}/token`,
    service,
    issuer,
    certPem,
    username,
    password,
    get requests() {
      return requests;
    },
    get scopes() {
      return scopes;
    },
    get log() {
      return log;
    },
    mint,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

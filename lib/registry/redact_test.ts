import assert from "node:assert/strict";
import { redactUrlValue, redactUserinfo } from "./redact.ts";

Deno.test("redact: a URL value, parsable or not", () => {
  assert.equal(redactUrlValue("http://u:s3cret@proxy:3128"), "http://***@proxy:3128");
  assert.equal(redactUrlValue("http://u:pa ss@[bad"), "http://***@[bad");
  assert.equal(redactUrlValue("socks5h://u:p/w@x@host:1"), "socks5h://***@host:1");
  assert.equal(redactUrlValue("u:s3cret@host:1"), "***@host:1");
  assert.equal(redactUrlValue("http://proxy:3128"), "http://proxy:3128");
});

Deno.test("redact: URLs inside a message", () => {
  assert.equal(
    redactUserinfo("error sending request for http://a:b@x:1/ (via http://c:d@y:2)"),
    "error sending request for http://***@x:1/ (via http://***@y:2)",
  );
  assert.equal(redactUserinfo("no secrets here"), "no secrets here");
});

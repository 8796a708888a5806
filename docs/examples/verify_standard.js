// Verifies a hookd `standard` (Standard Webhooks v1) signature with Node's
// own crypto. Usage: node verify_standard.js SECRET < saved-body, with the
// headers in WEBHOOK_ID, WEBHOOK_TIMESTAMP and WEBHOOK_SIGNATURE.
const crypto = require("crypto");

function verifyStandard(secret, headers, body, toleranceSeconds = 300) {
  const id = headers["webhook-id"];
  const ts = headers["webhook-timestamp"];
  const sigs = headers["webhook-signature"];
  if (!id || !ts || !sigs) throw new Error("missing webhook-id, webhook-timestamp or webhook-signature");
  if (Math.abs(Date.now() / 1000 - Number(ts)) > toleranceSeconds) throw new Error("timestamp outside the tolerance");
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  // body must be the raw bytes received (a Buffer), never re-serialised JSON.
  const expected = crypto.createHmac("sha256", key).update(`${id}.${ts}.`).update(body).digest();
  for (const entry of sigs.split(" ")) {
    const [version, b64] = entry.split(",");
    if (version !== "v1" || !b64) continue;
    const got = Buffer.from(b64, "base64");
    if (got.length === expected.length && crypto.timingSafeEqual(got, expected)) return true;
  }
  throw new Error("no signature matches");
}

module.exports = { verifyStandard };

if (require.main === module) {
  const body = require("fs").readFileSync(0);
  const headers = {
    "webhook-id": process.env.WEBHOOK_ID,
    "webhook-timestamp": process.env.WEBHOOK_TIMESTAMP,
    "webhook-signature": process.env.WEBHOOK_SIGNATURE,
  };
  try {
    verifyStandard(process.argv[2], headers, body);
    console.log("OK");
  } catch (e) {
    console.log("FAIL: " + e.message);
    process.exit(1);
  }
}

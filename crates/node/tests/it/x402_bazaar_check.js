// Asks a paid route for its price without paying and checks the 402's x402 `bazaar` discovery
// extension with the official validators (@x402/extensions: the info against its own schema,
// and the schema against the spec), printing one JSON line.
//
//   NODE_PATH=.tools/npm/node_modules node x402_bazaar_check.js URL
//
// Output: {status, valid, specValid, errors, info, resource}
'use strict';
const { decodePaymentRequiredHeader } = require('@x402/core/http');
const { validateDiscoveryExtension, validateDiscoveryExtensionSpec } = require('@x402/extensions/bazaar');

async function main() {
  const [url] = process.argv.slice(2);
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'default', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
  });
  const header = response.headers.get('PAYMENT-REQUIRED');
  if (!header) throw new Error(`no PAYMENT-REQUIRED header (HTTP ${response.status})`);
  const required = decodePaymentRequiredHeader(header);
  const bazaar = required.extensions && required.extensions.bazaar;
  if (!bazaar) throw new Error('the 402 carries no bazaar extension');
  const own = validateDiscoveryExtension(bazaar);
  const spec = validateDiscoveryExtensionSpec(bazaar);
  process.stdout.write(
    JSON.stringify({
      status: response.status,
      valid: own.valid,
      specValid: spec.valid,
      errors: [...(own.errors || []), ...(spec.errors || [])],
      info: bazaar.info,
      resource: required.resource,
    }) + '\n',
  );
}

main().catch((e) => {
  process.stderr.write(`bazaar check failed: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});

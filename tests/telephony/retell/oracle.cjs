// oracle.cjs - the official retell-sdk as the signature oracle.
//   node oracle.cjs sign   < body   prints Retell.sign(body, key)
//   node oracle.cjs verify < body   exits 0 when Retell.verify(body, key,
//                                   sig) resolves true, 1 otherwise
// The key comes from RETELL_ORACLE_KEY, the signature (verify) from
// RETELL_ORACLE_SIG, the SDK from RETELL_SDK_DIR (retell_harness.sh).
'use strict';
const path = require('path');
const fs = require('fs');
const { Retell } = require(path.join(process.env.RETELL_SDK_DIR,
  'node_modules', 'retell-sdk'));
const body = fs.readFileSync(0, 'utf8');
const key = process.env.RETELL_ORACLE_KEY;
(async () => {
  if (process.argv[2] === 'sign') {
    process.stdout.write(await Retell.sign(body, key));
  } else if (process.argv[2] === 'verify') {
    // verify returns a Promise in retell-sdk 5.x: await it.
    const ok = await Retell.verify(body, key, process.env.RETELL_ORACLE_SIG);
    process.exit(ok === true ? 0 : 1);
  } else {
    process.exit(2);
  }
})().catch((e) => { console.error(e); process.exit(3); });

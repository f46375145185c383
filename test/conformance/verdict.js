// SPDX-License-Identifier: MIT
// The verdict on one scenario run, for run.sh and server.sh:
//   node verdict.js <checks.json> "<required checks>"
// First line: "ok <successes> <failures> <warnings> <missing required checks, comma-separated, or ->"
// ("nochecks 0 0 0 -" when checks.json cannot be read); then one line per FAILURE/WARNING.
// A required check is "id", or "id#name" where several checks share one id and differ by name.
const fs = require('fs');
const [file, req] = process.argv.slice(2);
let checks = [];
try { checks = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { console.log('nochecks 0 0 0 -'); process.exit(0); }
const n = (st) => checks.filter((c) => c.status === st).length;
const missing = (req || '').split(/\s+/).filter(Boolean)
  .filter((r) => {
    const [id, name] = r.split('#');
    return !checks.some((c) => c.id === id && (name === undefined || c.name === name) && c.status === 'SUCCESS');
  });
const bad = checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING')
  .map((c) => `${c.status} ${c.id}${c.name && c.name !== c.id ? ' [' + c.name + ']' : ''}: ${c.errorMessage || c.description}`);
console.log(`ok ${n('SUCCESS')} ${n('FAILURE')} ${n('WARNING')} ${missing.join(',') || '-'}`);
for (const b of bad) console.log(b);

// compile.js compiles every src/*.sol with the pinned solcjs and writes
// build/<Contract>.abi, build/<Contract>.bin, build/combined.json (for abigen)
// and build/VERSION (compiler version + SHA-256 of the sources). Run it through
// `go generate ./contracts/` (see gen.go); it fails on any compiler error or warning
// that solc reports as an error, and on a compiler version other than the pinned one.
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const solc = require('solc');

const PINNED = '0.8.28';
const EVM_VERSION = 'paris';
const OPTIMIZER_RUNS = 200;
const CONTRACTS = ['Forwarder', 'ForwarderFactory', 'TestStipendPayer', 'TestToken'];

const root = __dirname;
const srcDir = path.join(root, 'src');
const buildDir = path.join(root, 'build');

const version = solc.version();
if (!version.startsWith(PINNED + '+')) {
  console.error(`compile.js: solc ${version} is installed, want ${PINNED} (run npm ci)`);
  process.exit(1);
}

const files = fs.readdirSync(srcDir).filter((f) => f.endsWith('.sol')).sort();
const sources = {};
const hash = crypto.createHash('sha256');
for (const f of files) {
  const content = fs.readFileSync(path.join(srcDir, f));
  sources[f] = { content: content.toString('utf8') };
  // Hash name, byte length and bytes of each file in name order, so renames count as
  // changes too; artifacts_test.go computes the same digest.
  hash.update(f + '\n' + content.length + '\n');
  hash.update(content);
}
const sourcesSHA = hash.digest('hex');

const input = {
  language: 'Solidity',
  sources,
  settings: {
    evmVersion: EVM_VERSION,
    optimizer: { enabled: true, runs: OPTIMIZER_RUNS },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input)));
let failed = false;
for (const e of output.errors || []) {
  console.error(e.formattedMessage || e.message);
  if (e.severity === 'error') failed = true;
}
if (failed) process.exit(1);

fs.mkdirSync(buildDir, { recursive: true });
fs.mkdirSync(path.join(root, 'bindings'), { recursive: true }); // abigen writes there next
const combined = { contracts: {}, version };
for (const name of CONTRACTS) {
  const file = name + '.sol';
  const c = output.contracts[file] && output.contracts[file][name];
  if (!c) {
    console.error(`compile.js: no contract ${name} in ${file}`);
    process.exit(1);
  }
  const bin = c.evm.bytecode.object;
  fs.writeFileSync(path.join(buildDir, name + '.abi'), JSON.stringify(c.abi, null, 2) + '\n');
  fs.writeFileSync(path.join(buildDir, name + '.bin'), bin + '\n');
  combined.contracts[file + ':' + name] = { abi: c.abi, bin };
}
fs.writeFileSync(path.join(buildDir, 'combined.json'), JSON.stringify(combined, null, 2) + '\n');
fs.writeFileSync(
  path.join(buildDir, 'VERSION'),
  [
    `solc ${version}`,
    `evm ${EVM_VERSION}`,
    `optimizer-runs ${OPTIMIZER_RUNS}`,
    `sources-sha256 ${sourcesSHA}`,
    '',
  ].join('\n'),
);
console.log(`compile.js: solc ${version}, ${files.length} sources, sha256 ${sourcesSHA}`);

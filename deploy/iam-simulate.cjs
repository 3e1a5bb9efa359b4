// Evaluates IAM requests with @cloud-copilot/iam-simulate, for deploy/iam_proof.py.
// stdin: a JSON list of {identityPolicies, resourcePolicy, request}; stdout: one result per entry,
// {result: 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied' | 'Error', identityAllows, resourceAllows, errors}.
'use strict';

const fs = require('fs');
const { runSimulation } = require('@cloud-copilot/iam-simulate');

function allowsOf(results, analysis) {
  const found = new Set();
  for (const result of results) {
    for (const statement of result.analysis?.[analysis]?.allowStatements ?? []) {
      const sid = statement.explain?.identifier ?? String(statement.statement?._index ?? '');
      found.add(statement.policyId ? `${statement.policyId}/${sid}` : sid);
    }
  }
  return [...found].sort();
}

async function evaluate(entry) {
  const simulation = {
    identityPolicies: entry.identityPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: entry.request,
  };
  if (entry.resourcePolicy) simulation.resourcePolicy = entry.resourcePolicy;
  const response = await runSimulation(simulation, {});
  if (response.resultType === 'error') {
    return { result: 'Error', identityAllows: [], resourceAllows: [], errors: response.errors };
  }
  const results = response.resultType === 'single' ? [response.result] : response.results;
  return {
    result: response.overallResult,
    identityAllows: allowsOf(results, 'identityAnalysis'),
    resourceAllows: allowsOf(results, 'resourceAnalysis'),
  };
}

async function main() {
  const entries = JSON.parse(fs.readFileSync(0, 'utf8'));
  const answers = [];
  for (const entry of entries) answers.push(await evaluate(entry));
  process.stdout.write(JSON.stringify(answers));
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(2);
});

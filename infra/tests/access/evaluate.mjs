// Reads a JSON array of simulations (iam-simulate's Simulation shape) on
// stdin; writes one verdict per simulation on stdout: its overallResult,
// or "Error" with the evaluator's message for an input it refuses.
import { runSimulation } from '@cloud-copilot/iam-simulate';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const simulations = JSON.parse(Buffer.concat(chunks).toString());
const verdicts = [];
for (const simulation of simulations) {
  const result = await runSimulation({ serviceControlPolicies: [], resourceControlPolicies: [], ...simulation }, {});
  verdicts.push(result.resultType === 'error'
    ? { result: 'Error', errors: result.errors }
    : { result: result.overallResult });
}
process.stdout.write(JSON.stringify(verdicts));

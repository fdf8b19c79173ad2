// Runs the suites of test/vm/ (IPVS needs a kernel this machine does not
// have) in one VM boot: one vitest process there for all of them, because a
// boot costs about 15 s and every Node process several more in emulation.
// Passes only if every test there passed and none was skipped.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { expect, it } from 'vitest';
import { requireVm, VMRUN } from '../support/vm.js';

const e2e = requireVm();

/**
 * qemu emulates (no KVM). Measured on this 2-core machine: the kernel client's suite 47 s idle,
 * 4.6 min with the load at 8; the IPVS traffic scenarios 11.5 min, the nftables ones 4-6 min,
 * the agent in IPVS mode 2.5-4 min; all of them 17-20 min.
 */
const VM_SECONDS = 2400;

interface JsonReport {
  success: boolean;
  numTotalTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: { name: string; assertionResults: { fullName: string; status: string }[] }[];
}

function runInVm(argv: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // VMRUN_TIMEOUT: vmrun stops qemu itself, before this test's own timeout.
    const child = spawn(VMRUN, ['--', ...argv], { env: { ...process.env, VMRUN_TIMEOUT: String(VM_SECONDS) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

e2e('suites that need the VM', () => {
  it('pass in a VM with Debian\'s stock kernel, every test run', { timeout: (VM_SECONDS + 60) * 1000 }, async () => {
    mkdirSync('dist/vm', { recursive: true });
    const report = `dist/vm/report-${process.pid}.json`;
    rmSync(report, { force: true });
    const vm = await runInVm([process.execPath, 'node_modules/vitest/vitest.mjs', 'run', '--config', 'test/vm/vitest.config.ts',
      '--reporter=default', '--reporter=json', `--outputFile.json=${report}`]);
    let json: JsonReport | undefined;
    try {
      json = JSON.parse(readFileSync(report, 'utf8')) as JsonReport;
    } catch {
      // no report: the output says why
    }
    const results = json?.testResults.flatMap((f) => f.assertionResults.map((a) => `${a.status}: ${a.fullName}`)) ?? [];
    const why = `the VM's output:\n${vm.output}`;
    expect(json, why).toBeDefined();
    expect(results.filter((r) => !r.startsWith('passed: ')), why).toEqual([]);
    expect({ code: vm.code, success: json!.success, pending: json!.numPendingTests, todo: json!.numTodoTests }, why).toEqual({ code: 0, success: true, pending: 0, todo: 0 });
    expect(json!.numTotalTests, why).toBeGreaterThan(0);
    rmSync(report, { force: true });
  });
});

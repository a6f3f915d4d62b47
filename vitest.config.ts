import { defineConfig } from 'vitest/config';

// Suites whose assertions compare measured speeds (a profile against a plain
// onnxruntime loop, served FPS against profiled FPS and SLOs). They run after
// everything else, one file at a time, so no other suite competes for the
// cores while they measure. The emulated arm64 device joins them: under qemu
// yolov8n serves near the agent's 0.5 FPS health floor (1-2 FPS at 32-64 px).
const measured = ['test/agent/profile.test.ts', 'test/agent/serve.test.ts', 'test/controller/rollout.test.ts', 'test/agent/arm64.test.ts'];

const shared = {
  testTimeout: 60_000,
  hookTimeout: 60_000,
  pool: 'forks' as const,
};

export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      {
        test: {
          ...shared,
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: measured,
          // Suites start brokers, agents and onnxruntime sessions: two at a time on a 2-core box.
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          name: 'measured',
          include: measured,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});

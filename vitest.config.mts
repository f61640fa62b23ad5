import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Root, namespaces, one kernel: files run one after another. Beside two labs on two cores
          // a plan's pcs calls (a Python start each) took 7 times as long as alone (17 s → 120 s+).
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'lab',
          include: ['test/lab/**/*.test.ts'],
          // One lab (qemu guests) per vitest process, its files one after another (scripts/test.sh
          // runs two processes, each with its own LAB_DIR); TCG is slow: steps take minutes.
          fileParallelism: false,
          testTimeout: 900_000,
          hookTimeout: 960_000,
        },
      },
    ],
  },
});

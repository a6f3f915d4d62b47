import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { readInventory, usableProviders } from '../../agent/inventory.js';

const ort = createRequire(import.meta.url)('onnxruntime-node') as typeof import('onnxruntime-node');

describe('execution providers in the inventory', () => {
  it('leaves out GPU providers on a device without a GPU, and keeps them on one that has it', () => {
    expect(usableProviders(['cpu', 'webgpu'], false)).toEqual(['cpu']);
    expect(usableProviders(['cpu', 'webgpu', 'cuda'], true)).toEqual(['cpu', 'webgpu', 'cuda']);
    expect(usableProviders(['cpu', 'xnnpack'], false)).toEqual(['cpu', 'xnnpack']);
  });

  it('lists, on this machine, only providers whose binaries ship, cpu among them', async () => {
    const inventory = await readInventory(null);
    const bundled = ort.listSupportedBackends().filter((b) => b.bundled).map((b) => b.name);
    expect(inventory.executionProviders).toContain('cpu');
    for (const p of inventory.executionProviders) expect(bundled).toContain(p);
  });
});

describe('ffmpeg in the inventory', () => {
  it('names the ffmpeg on PATH and its version, as `ffmpeg -version` prints it, or null without one', async () => {
    const inventory = await readInventory(null);
    const found = spawnSync('ffmpeg', ['-hide_banner', '-version'], { encoding: 'utf8' });
    if (found.error) return void expect(inventory.ffmpeg).toBeNull();
    const version = /^ffmpeg version (\S+)/m.exec(found.stdout)?.[1];
    expect(inventory.ffmpeg?.version).toBe(version);
    expect(inventory.ffmpeg?.path).toMatch(/\/ffmpeg$/);
  });
});

import { h } from './dom.js';

/** Rollouts: stages, per-state counts and controls. */
export class RolloutsView {
  readonly root: HTMLElement;

  constructor(readonly selected: string | null) {
    this.root = h('section', { class: 'rollouts' }, h('h1', {}, 'Rollouts'), h('p', { class: 'muted empty' }, 'This controller has no rollouts yet.'));
  }

  destroy(): void {}
}

// Seeded synthetic weights. The builder's models exist to be timed, never to
// detect anything, so the only requirements are determinism (same seed, same
// bytes) and activations that stay in a numerically sane range.
import { mulberry32 } from '../random.js';

export class WeightSource {
  private readonly uniform: () => number;

  constructor(seed: number) {
    this.uniform = mulberry32(seed);
  }

  /** Fills `out` with N(0, std²) samples (Box-Muller, both outputs used). */
  normal(out: Float32Array, std: number): Float32Array {
    for (let i = 0; i < out.length; i += 2) {
      // 1 - u keeps the logarithm's argument in (0, 1].
      const r = Math.sqrt(-2 * Math.log(1 - this.uniform())) * std;
      const theta = 2 * Math.PI * this.uniform();
      out[i] = r * Math.cos(theta);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(theta);
    }
    return out;
  }

  /**
   * Conv weight [cOut, cIn, k, k] with std gain/sqrt(fan_in): gain √2 (He) for
   * convs followed by SiLU keeps the activation scale roughly constant through
   * depth; the linear head convs use gain 1.
   */
  convWeight(cOut: number, cIn: number, k: number, gain: number): Float32Array {
    const fanIn = cIn * k * k;
    return this.normal(new Float32Array(cOut * fanIn), gain / Math.sqrt(fanIn));
  }

  /** Small biases, so no unit starts saturated. */
  bias(cOut: number): Float32Array {
    return this.normal(new Float32Array(cOut), 0.02);
  }
}

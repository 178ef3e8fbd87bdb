// Adam with a learning rate that can be set between steps through a public method. tfjs-core's AdamOptimizer
// keeps its rate in a protected field, so a schedule would have to write into it; this class is ours, built on
// the public `tf.Optimizer` base and public ops only, with the same update, in the same op order, as
// tfjs-core 4.22's AdamOptimizer (so the two give the same weights step for step), the same class name and
// config for serialisation (a model saved with it says 'Adam' and loads anywhere), and the same weight list
// (`iter`, then every `<variable>/m`, then every `<variable>/v`), so that optimizer state saved by one loads
// into the other.
import * as tf from '@tensorflow/tfjs-core';
import { ADAM_KERNEL } from '../internal/kernel-names.js';
import { badOption, show } from '../internal/validate.js';

/** A named tensor as optimizers exchange state (tfjs-core's `NamedTensor`, which its index does not export). */
type NamedTensor = Parameters<tf.Optimizer['setWeights']>[0][number];

interface Slot {
  originalName: string;
  variable: tf.Variable;
}

/** The epsilon of tfjs-layers' named optimizers (`compile({ optimizer: 'adam' })`) and of Keras. */
const LAYERS_EPSILON = 1e-7;

/**
 * Adam (Kingma & Ba) whose learning rate can be changed between steps with {@link ScheduledAdam.setLearningRate};
 * what {@link buildCnn} compiles with and what `trainCnn`'s schedules drive. Serialises as a standard `Adam`.
 *
 * @example
 * ```ts
 * const adam = new ScheduledAdam(0.001);
 * model.compile({ optimizer: adam, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
 * adam.setLearningRate(0.0005);
 * ```
 */
export class ScheduledAdam extends tf.Optimizer {
  /** Serialised as a standard Adam: the state and config are those of tfjs-core's and Keras' Adam. */
  static get className(): string {
    return 'Adam';
  }

  /**
   * `instanceof` by prototype chain: tf.Optimizer answers `instanceof` for anything with `minimize`,
   * `computeGradients` and `applyGradients`, which would make every tfjs optimizer a ScheduledAdam.
   */
  static override [Symbol.hasInstance](instance: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(ScheduledAdam, instance);
  }

  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  private rate: number;
  private accBeta1: tf.Variable | undefined;
  private accBeta2: tf.Variable | undefined;
  private firstMoments: Slot[] = [];
  private secondMoments: Slot[] = [];

  /**
   * @param learningRate - step size, > 0 (default 0.001).
   * @param beta1 - decay of the first moment (default 0.9).
   * @param beta2 - decay of the second moment (default 0.999).
   * @param epsilon - added to the root of the second moment (default 1e-7, as `compile({ optimizer: 'adam' })`).
   */
  constructor(learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon: number | null = LAYERS_EPSILON) {
    super();
    this.rate = checkRate(learningRate);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.epsilon = epsilon ?? LAYERS_EPSILON;
  }

  /** The current learning rate. */
  get learningRate(): number {
    return this.rate;
  }

  /**
   * Sets the learning rate used by the following steps.
   *
   * @throws FashionMnistError `BAD_OPTION` unless `rate` is a finite number > 0.
   */
  setLearningRate(rate: number): void {
    this.rate = checkRate(rate);
  }

  // The bias-correction accumulators start at beta1 and beta2, as in tfjs-core; made on first use, so that an
  // optimizer that never trains holds no tensors.
  private accumulators(): [tf.Variable, tf.Variable] {
    if (!this.accBeta1 || !this.accBeta2) {
      this.accBeta1 = tf.tidy(() => tf.scalar(this.beta1).variable(false));
      this.accBeta2 = tf.tidy(() => tf.scalar(this.beta2).variable(false));
    }
    return [this.accBeta1, this.accBeta2];
  }

  /** One Adam step on the given gradients (called by `minimize`, and so by `model.fit` / `trainOnBatch`). */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const names = Array.isArray(variableGradients)
      ? variableGradients.map((v) => v.name)
      : Object.keys(variableGradients);
    const [accBeta1, accBeta2] = this.accumulators();
    const lr = this.rate;
    // With installWasmTrainingKernels on the wasm backend: one kernel per variable, same arithmetic.
    const fused = tf.getKernel(ADAM_KERNEL, tf.getBackend()) != null;
    const corrections = fused ? [1 - accBeta1.dataSync()[0]!, 1 - accBeta2.dataSync()[0]!] : [0, 0];
    tf.tidy(() => {
      const oneMinusAccBeta1 = tf.sub(1, accBeta1);
      const oneMinusAccBeta2 = tf.sub(1, accBeta2);
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name];
        if (!value) return;
        if (this.firstMoments[i] == null) {
          this.firstMoments[i] = {
            originalName: `${name}/m`,
            variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
          };
        }
        if (this.secondMoments[i] == null) {
          this.secondMoments[i] = {
            originalName: `${name}/v`,
            variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
          };
        }
        const gradient = Array.isArray(variableGradients)
          ? variableGradients[i]!.tensor
          : variableGradients[name];
        if (gradient == null) return;
        const firstMoment = this.firstMoments[i]!.variable;
        const secondMoment = this.secondMoments[i]!.variable;
        if (fused && value.dtype === 'float32' && gradient.dtype === 'float32') {
          const [newValue, newM, newV] = tf.engine().runKernel(
            ADAM_KERNEL,
            { value, gradient, m: firstMoment, v: secondMoment },
            {
              beta1: this.beta1,
              beta2: this.beta2,
              epsilon: this.epsilon,
              learningRate: lr,
              oneMinusAccBeta1: corrections[0]!,
              oneMinusAccBeta2: corrections[1]!,
            },
          ) as tf.Tensor[];
          firstMoment.assign(newM!);
          secondMoment.assign(newV!);
          value.assign(newValue!);
          return;
        }
        const newFirstMoment = tf.add(tf.mul(firstMoment, this.beta1), tf.mul(gradient, 1 - this.beta1));
        const newSecondMoment = tf.add(
          tf.mul(secondMoment, this.beta2),
          tf.mul(tf.square(gradient), 1 - this.beta2),
        );
        const biasCorrectedFirstMoment = tf.div(newFirstMoment, oneMinusAccBeta1);
        const biasCorrectedSecondMoment = tf.div(newSecondMoment, oneMinusAccBeta2);
        firstMoment.assign(newFirstMoment);
        secondMoment.assign(newSecondMoment);
        const newValue = tf.add(
          tf.mul(
            tf.div(biasCorrectedFirstMoment, tf.add(tf.sqrt(biasCorrectedSecondMoment), this.epsilon)),
            -lr,
          ),
          value,
        );
        value.assign(newValue);
      });
      accBeta1.assign(tf.mul(accBeta1, this.beta1));
      accBeta2.assign(tf.mul(accBeta2, this.beta2));
    });
    this.incrementIterations();
  }

  /** Frees the optimizer's state; the optimizer can still be used (it starts from zero state again). */
  override dispose(): void {
    tf.dispose([
      ...(this.accBeta1 ? [this.accBeta1] : []),
      ...(this.accBeta2 ? [this.accBeta2] : []),
      ...this.firstMoments.map((s) => s.variable),
      ...this.secondMoments.map((s) => s.variable),
    ]);
    this.accBeta1 = undefined;
    this.accBeta2 = undefined;
    this.firstMoments = [];
    this.secondMoments = [];
  }

  /** The state in tfjs-core's Adam layout: `iter`, then the first moments, then the second moments. */
  override async getWeights(): Promise<NamedTensor[]> {
    const slots = [...this.firstMoments, ...this.secondMoments];
    return [await this.saveIterations()].concat(
      slots.map((s) => ({ name: s.originalName, tensor: s.variable })),
    );
  }

  /** Restores state saved by {@link ScheduledAdam.getWeights} or by tfjs-core's Adam. */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    if (rest.length % 2 !== 0) {
      throw badOption(
        `ScheduledAdam.setWeights: expected the iteration count and pairs of moments, received ${weightValues.length} tensors`,
      );
    }
    const count = rest.length / 2;
    // New variables first (they share the data of the given tensors), then the old ones go: the given
    // tensors may be this optimizer's own current state.
    const first = rest
      .slice(0, count)
      .map((w) => ({ originalName: w.name, variable: w.tensor.variable(false) }));
    const second = rest
      .slice(count)
      .map((w) => ({ originalName: w.name, variable: w.tensor.variable(false) }));
    this.dispose();
    this.firstMoments = first;
    this.secondMoments = second;
    // As tfjs-core: the accumulators become beta^(iterations + 1), computed on the backend.
    const [accBeta1, accBeta2] = this.accumulators();
    const next = this.iterations + 1;
    tf.tidy(() => {
      accBeta1.assign(tf.pow(this.beta1, next));
      accBeta2.assign(tf.pow(this.beta2, next));
    });
  }

  /** `{ learningRate, beta1, beta2, epsilon }`, as tfjs-core's Adam. */
  override getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.rate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }

  /** Rebuilds an optimizer from {@link ScheduledAdam.getConfig} output (or a saved Adam config). */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config['learningRate'], config['beta1'], config['beta2'], config['epsilon']);
  }
}

function checkRate(rate: unknown): number {
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0) {
    throw badOption(`ScheduledAdam: the learning rate must be a finite number > 0, received ${show(rate)}`);
  }
  return rate;
}

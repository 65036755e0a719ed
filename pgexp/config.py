"""Typed config schemas, registered in Hydra's ConfigStore.

Each YAML file under ``conf/<group>/`` starts from one of these schemas (its defaults list names
``/hydra/pgexp_schema/<group>@_here_: <schema>``; :func:`pgexp.hydra_jobs.register_configs` stores
them), so Hydra rejects unknown keys, wrong types and values outside an enum with a message
naming the key.
Each schema checks the values a type cannot express (``N >= 1``, ``lr > 0``) in its
``__post_init__``, which runs when OmegaConf builds the typed config (``OmegaConf.to_object``)
and whenever one is made in code: a key's type, default and range are declared in one place.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, cast

from omegaconf import MISSING

from pgexp.errors import ConfigError

MOST = 10**9
"""The most iterations or evaluation episodes a run may ask for (a billion: days of work even
at a millisecond each; beyond that a typo is likelier than a plan)."""


def require(ok: bool, key: str, value: object, allowed: str) -> None:
    """:class:`ConfigError` ``<key> must be <allowed> (got <value>)`` unless ``ok``."""
    if not ok:
        raise ConfigError(key, f"must be {allowed} (got {value!r})")


def int_at_least(key: str, value: int, low: int) -> None:
    require(value >= low, key, value, f"an integer >= {low}")


def positive_finite(key: str, value: float) -> None:
    require(math.isfinite(value) and value > 0, key, value, "a finite number > 0")


class ExactMethod(str, Enum):
    """How the exact estimator computes ∇J."""

    dp = "dp"
    enumerate = "enumerate"


class Returns(str, Enum):
    """Which return multiplies the score at step t of a sampled trajectory."""

    total = "total"
    reward_to_go = "reward_to_go"


class Baseline(str, Enum):
    """What is subtracted from the weights of a mini-batch: ``none``; ``mean``, per step the
    mean over the batch, the trajectory's own included, which scales the estimate's expectation
    by (N−1)/N (0.9 at N = 10); ``leave_one_out``, per step the mean of the other N−1
    (unbiased); ``value``, γ^t V^π_t(s_t) from the exact values of the current policy (finite
    MDPs: the best a state-value critic could do; unbiased); ``optimal``, per parameter the
    constant b_k = E[ĝ_k s_k] / E[s_k²] of Greensmith et al. (2004), ĝ_k and s_k a trajectory's
    k-th gradient and score, estimated from the other N−1 trajectories (table policies, per
    logit; unbiased)."""

    none = "none"
    mean = "mean"
    leave_one_out = "leave_one_out"
    value = "value"
    optimal = "optimal"

    @property
    def from_others(self) -> bool:
        """Estimated from the other trajectories of the batch: needs N >= 2."""
        return self in (Baseline.leave_one_out, Baseline.optimal)

    @property
    def per_step_mean(self) -> bool:
        """A mean over the batch per step (``mean``, ``leave_one_out``)."""
        return self in (Baseline.mean, Baseline.leave_one_out)

    @property
    def needs_table(self) -> bool:
        """Computed from a table policy's probabilities (``value``, ``optimal``)."""
        return self in (Baseline.value, Baseline.optimal)


class TableInit(str, Enum):
    """θ⁰ of a table policy: zeros (the uniform policy) or N(0, init_scale²) entries."""

    zeros = "zeros"
    normal = "normal"


class NetInit(str, Enum):
    """Initial weights of a neural policy: orthogonal (gain √2, last layer 0.01, zero biases)
    or torch's default ``nn.Linear`` distribution."""

    orthogonal = "orthogonal"
    default = "default"


class Activation(str, Enum):
    tanh = "tanh"
    relu = "relu"


class Device(str, Enum):
    cpu = "cpu"
    cuda = "cuda"
    auto = "auto"


class DType(str, Enum):
    float32 = "float32"
    float64 = "float64"


class Optimizer(str, Enum):
    """The update rule: plain gradient ascent (the seed's) or Adam."""

    sgd = "sgd"
    adam = "adam"


# How the gymnasium adapter steps its copies: in one process (sync) or one process per copy
# (async). The functional form because ``async`` is a keyword and OmegaConf matches member names.
Vectorization = Enum("Vectorization", {"sync": "sync", "async": "async"}, type=str)


class WandbMode(str, Enum):
    offline = "offline"
    online = "online"
    disabled = "disabled"


# ----------------------------------------------------------------------------- env
@dataclass
class EnvConfig:
    """Common keys of every environment."""

    name: str = MISSING
    """Short name used in run names and reports."""
    horizon: int | None = MISSING
    """T: number of steps of every trajectory (steps after termination earn nothing); null is
    allowed for ``env=gym`` only, where it takes the id's ``max_episode_steps``."""
    discount: float = 1.0
    """γ in J = E[Σ_{t<T} γ^t r_t]."""

    def __post_init__(self) -> None:
        # null is resolved (env=gym: the id's TimeLimit) or refused by make_env, which alone knows
        if self.horizon is not None:
            int_at_least("env.horizon", self.horizon, 1)
        require(0 < self.discount <= 1, "env.discount", self.discount, "in (0, 1]")


@dataclass
class ToyTextEnvConfig(EnvConfig):
    """A gymnasium toy-text env read through ``env.unwrapped.P``."""

    id: str = MISSING
    """gymnasium id, e.g. ``FrozenLake-v1``."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of ``gymnasium.make`` (``map_name``, ``is_slippery``...)."""


@dataclass
class BanditEnvConfig(EnvConfig):
    """One state, one arm per reward, deterministic rewards."""

    rewards: list[float] = field(default_factory=lambda: [1.0, 0.9, 0.1])
    horizon: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        rewards = list(self.rewards)
        require(len(rewards) > 0, "env.rewards", rewards, "a non-empty list")
        finite = all(math.isfinite(r) for r in rewards)
        require(finite, "env.rewards", rewards, "a list of finite numbers")


@dataclass
class ChainEnvConfig(EnvConfig):
    """The n-chain of Strens (2000): action 0 walks right, action 1 returns to the start."""

    n_states: int = 5
    slip: float = 0.2
    """Probability that the other action is executed."""
    small_reward: float = 2.0
    """Reward for returning to the start (action 1)."""
    large_reward: float = 10.0
    """Reward for walking right in the last state."""

    def __post_init__(self) -> None:
        super().__post_init__()
        int_at_least("env.n_states", self.n_states, 2)
        require(0 <= self.slip <= 1, "env.slip", self.slip, "in [0, 1]")


@dataclass
class GarnetEnvConfig(EnvConfig):
    """A random MDP: each (s, a) reaches ``branching`` random next states."""

    n_states: int = 20
    n_actions: int = 4
    branching: int = 3
    seed: int = 0
    """Seed of the MDP itself (independent of the run's ``seed``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        int_at_least("env.n_states", self.n_states, 1)
        int_at_least("env.n_actions", self.n_actions, 1)
        branching_ok = 1 <= self.branching <= self.n_states
        allowed = f"an integer in [1, env.n_states={self.n_states}]"
        require(branching_ok, "env.branching", self.branching, allowed)
        require(0 <= self.seed < 2**32, "env.seed", self.seed, "an integer in [0, 2^32)")


@dataclass
class FileEnvConfig(EnvConfig):
    """A finite MDP of one's own, from a YAML, JSON or ``.npz`` file (fields ``P``, ``R``,
    ``mu0``, optional ``terminal``, ``features``, ``state_names``, ``action_names``)."""

    path: str = MISSING
    """The file, absolute or relative to the directory pgexp runs in."""


@dataclass
class TorchEnvConfig(EnvConfig):
    """A torch-native batched env (``cartpole``, ``acrobot``, ``pendulum``): no transition table,
    so only ``estimator=minibatch`` applies."""


@dataclass
class GymEnvConfig(EnvConfig):
    """Any registered gymnasium id, stepped through ``gymnasium.vector`` on the CPU (the
    fallback for envs without a torch version; only ``estimator=minibatch`` applies)."""

    id: str = "CartPole-v1"
    """gymnasium id, e.g. ``MountainCar-v0``."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of ``gymnasium.make``."""
    vectorization: Vectorization = Vectorization["sync"]
    """``sync`` (gymnasium's SyncVectorEnv) or ``async`` (AsyncVectorEnv, one process per copy)."""
    num_envs: int | None = None
    """Copies stepped at once (more trajectories run in successive rounds); null: all N for
    ``sync``, one per CPU core for ``async``."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_envs is not None:
            int_at_least("env.num_envs", self.num_envs, 1)


# ----------------------------------------------------------------------------- policy
@dataclass
class PolicyConfig:
    name: str = MISSING


@dataclass
class TablePolicyConfig(PolicyConfig):
    """A softmax policy over the states of a finite MDP."""

    init: TableInit = TableInit.zeros
    """``zeros`` (θ⁰ = 0, the uniform policy) or ``normal`` (N(0, init_scale²) entries)."""
    init_scale: float = 1.0
    """Standard deviation of the ``normal`` initial entries (unused by ``zeros``)."""

    def __post_init__(self) -> None:
        require(self.init_scale >= 0, "policy.init_scale", self.init_scale, ">= 0")


@dataclass
class TabularSoftmaxConfig(TablePolicyConfig):
    """π(a|s) = softmax(θ[s])_a with θ ∈ R^{S×A}."""

    name: str = "tabular_softmax"
    time_dependent: bool = False
    """π_t(a|s) = softmax(θ[t, s])_a with θ ∈ R^{T×S×A}: one table per step, so that exact
    ascent can reach the finite-horizon optimum J* (a stationary policy need not). The policy
    runs on the MDP whose states are the pairs (t, s) (``pgexp.envs.time_unrolled``)."""


FEATURE_KINDS = ("one_hot", "random", "env")
"""``policy.features`` values that name no file."""


@dataclass
class LinearSoftmaxConfig(TablePolicyConfig):
    """π(a|s) ∝ exp(φ(s, a)·θ) with θ ∈ R^d."""

    name: str = "linear_softmax"
    features: str = "one_hot"
    """``one_hot`` (φ(s,a) = e_{s,a}, same as tabular), ``random`` (N(0,1) entries of size
    ``dim``), ``env`` (the features of an ``env=file`` MDP), or a path to a ``.npy`` array of
    shape [S, A, d]."""
    dim: int = 8
    """d for ``features=random`` (unused otherwise)."""
    feature_seed: int = 0
    """Seed of the ``features=random`` draw (unused otherwise)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        int_at_least("policy.dim", self.dim, 1)


@dataclass
class MLPPolicyConfig(PolicyConfig):
    """Categorical policy with logits MLP(obs), for envs with discrete actions."""

    name: str = "mlp"
    init: NetInit = NetInit.orthogonal
    """``orthogonal`` (gain √2, last layer 0.01) or ``default`` (torch's)."""
    hidden: list[int] = field(default_factory=lambda: [64, 64])
    activation: Activation = Activation.tanh

    def __post_init__(self) -> None:
        hidden = list(self.hidden)
        require(all(h >= 1 for h in hidden), "policy.hidden", hidden, "sizes >= 1")


@dataclass
class GaussianPolicyConfig(MLPPolicyConfig):
    """Gaussian policy N(MLP(obs), σ²), for envs with continuous actions."""

    name: str = "gaussian"
    state_dependent_std: bool = False
    """False: log σ is a parameter; True: a second output head of the MLP."""
    log_std_init: float = 0.0


# ----------------------------------------------------------------------------- estimator
@dataclass
class EstimatorConfig:
    name: str = MISSING
    natural: bool = False
    """Ascend along the natural gradient F⁺∇J instead of ∇J, F the policy's Fisher information
    Σ_t γ^t E[∇log π(a_t|s_t) ∇log π(a_t|s_t)ᵀ] (actions averaged exactly at each state): exact
    (from the occupancy measure) with ``estimator=exact``, at the sampled states with
    ``minibatch``. In closed form for ``policy=tabular_softmax``; for other policies
    (F + λI)⁻¹∇J by conjugate gradients on Fisher-vector products (``cg_iters``, ``damping``)."""
    cg_iters: int = 10
    """Most conjugate-gradient steps (Fisher-vector products) per natural gradient."""
    damping: float = 1e-3
    """λ added to the Fisher's diagonal before solving (F is singular where the policy's
    distributions do not move)."""

    def __post_init__(self) -> None:
        int_at_least("estimator.cg_iters", self.cg_iters, 1)
        require(math.isfinite(self.damping) and self.damping >= 0, "estimator.damping",
                self.damping, "a finite number >= 0")  # fmt: skip


@dataclass
class ExactEstimatorConfig(EstimatorConfig):
    name: str = "exact"
    method: ExactMethod = ExactMethod.dp
    max_trajectories: int = 1_000_000
    """``method=enumerate`` refuses MDPs with more trajectories than this."""

    def __post_init__(self) -> None:
        super().__post_init__()
        int_at_least("estimator.max_trajectories", self.max_trajectories, 1)


@dataclass
class MinibatchEstimatorConfig(EstimatorConfig):
    name: str = "minibatch"
    N: int = 100
    """Trajectories sampled per gradient estimate."""
    returns: Returns = Returns.total
    """``total``: R(τ) weighs every step (the seed formula); ``reward_to_go``: the return from
    step t on."""
    baseline: Baseline = Baseline.none
    """``none`` (the seed formula), ``mean`` (scales the expectation by (N−1)/N),
    ``leave_one_out``, ``value`` (finite MDPs) or ``optimal`` (table policies); the last three
    unbiased (:class:`Baseline`)."""
    chunk: int | None = None
    """Trajectories sampled at once (null: all N): memory holds chunk·T steps instead of N·T,
    and the estimate is the same to the last bit (the same random numbers, summed in the same
    order; with a baseline from the batch (mean, leave_one_out, optimal), each chunk is sampled
    twice: once for the baseline, once for the gradient)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        int_at_least("estimator.N", self.N, 1)
        if self.chunk is not None:
            int_at_least("estimator.chunk", self.chunk, 1)
        if self.baseline.from_others:
            int_at_least(f"estimator.N (with estimator.baseline={self.baseline.value})", self.N, 2)


# ----------------------------------------------------------------------------- hardware
@dataclass
class HardwareConfig:
    device: Device = Device.cpu
    dtype: DType = DType.float64
    threads: int | None = 1
    """torch intra-op threads; null leaves torch's default (one per core). One thread is the
    default: pgexp's tensors are small enough that a second thread rarely pays, and with torch's
    default a run slows down several-fold whenever another process shares the cores."""
    compile: bool = False
    """Run a torch env's rollout as compiled programs (a scan per block of steps) and the neural
    policy's network through ``torch.compile``; finite MDPs, table policies and gymnasium envs
    run as they are. Agrees with eager execution to rounding, not bit for bit."""

    def __post_init__(self) -> None:
        if self.threads is not None:
            most = 4 * (os.cpu_count() or 1)
            allowed = (
                f"an integer in [1, {most}] (4 per core of this machine), or null (one per core)"
            )
            require(1 <= self.threads <= most, "hardware.threads", self.threads, allowed)


# ----------------------------------------------------------------------------- logger
@dataclass
class LoggerConfig:
    name: str = MISSING


@dataclass
class NoLoggerConfig(LoggerConfig):
    name: str = "none"


@dataclass
class WandbLoggerConfig(LoggerConfig):
    name: str = "wandb"
    mode: WandbMode = WandbMode.offline
    project: str = "pgexp"
    entity: str | None = None
    group: str | None = None
    """null: one group per multirun (the sweep directory's name), none for a single run."""
    tags: list[str] = field(default_factory=list)
    init_timeout_s: float = 30.0
    """The longest ``wandb.init`` may take (no network: it retries); an online run that cannot
    start within it falls back to an offline one."""

    def __post_init__(self) -> None:
        positive_finite("logger.init_timeout_s", self.init_timeout_s)


# ----------------------------------------------------------------------------- root
@dataclass
class TrainConfig:
    iters: int = 100
    """K: number of gradient steps."""
    lr: float = 1.0
    """γ, the learning rate: θ ← θ + lr · g."""
    optimizer: Optimizer = Optimizer.sgd
    """``sgd``: θ ← θ + lr·g exactly (the seed); ``adam``: Adam ascent with step size lr."""
    exact_metrics: bool = True
    """Compute J and the exact gradient at every iterate (finite MDPs only) for the metrics."""
    reference_N: int = 0
    """> 0: a mini-batch estimate from this many trajectories (reward-to-go, leave-one-out) is
    the reference for ``grad_cos``/``grad_rel_err`` where no exact gradient is computed. It is an
    estimate, with its own error ∝ 1/√reference_N. 0 turns it off."""
    reference_every: int = 10
    """Compute the ``reference_N`` estimate at iterations 1, 1 + every, 1 + 2·every, ..."""
    eval_episodes: int | None = None
    """Trajectories sampled at θ^K for ``return_final`` (0 turns it off); null: as many as one
    training estimate samples (``estimator.N``), or 100 for the exact estimator, so that the
    evaluation costs about one iteration."""
    progress: bool = True
    """Show a progress bar on stderr."""
    checkpoint_every: int = 10
    """Write ``checkpoint.pt`` every this many iterations (0: only at the start and when the
    run stops). A run also checkpoints when it ends or is interrupted (SIGINT, SIGTERM)."""
    resume: bool = False
    """Require an unfinished run in the run directory to continue (one of the same config is
    continued anyway, without this key)."""
    overwrite: bool = False
    """Start afresh in a run directory that holds a run, replacing its files."""

    def __post_init__(self) -> None:
        require(1 <= self.iters <= MOST, "train.iters", self.iters, f"in [1, {MOST:.0e}]")
        positive_finite("train.lr", self.lr)
        if self.eval_episodes is not None:
            episodes = self.eval_episodes
            require(0 <= episodes <= MOST, "train.eval_episodes", episodes, f"in [0, {MOST:.0e}]")
        int_at_least("train.reference_N", self.reference_N, 0)
        if self.reference_N == 1:
            raise ConfigError("train.reference_N", "must be 0 (off) or >= 2 (got 1)")
        int_at_least("train.reference_every", self.reference_every, 1)
        int_at_least("train.checkpoint_every", self.checkpoint_every, 0)
        if self.overwrite and self.resume:
            raise ConfigError(
                "train.overwrite=true and train.resume=true",
                "contradict each other (replace the run, or continue it): give one of them",
            )


@dataclass
class Config:
    env: EnvConfig = MISSING
    policy: PolicyConfig = MISSING
    estimator: EstimatorConfig = MISSING
    hardware: HardwareConfig = MISSING
    logger: LoggerConfig = MISSING
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0

    def __post_init__(self) -> None:
        require(0 <= self.seed < 2**64, "seed", self.seed, "an integer in [0, 2^64)")
        minibatch = self.estimator if isinstance(self.estimator, MinibatchEstimatorConfig) else None
        table_baseline = minibatch and minibatch.baseline.needs_table
        if minibatch and table_baseline and not isinstance(self.policy, TablePolicyConfig):
            raise ConfigError(
                f"estimator.baseline={minibatch.baseline.value}",
                f"needs a table policy (tabular_softmax or linear_softmax; got "
                f"policy={self.policy.name}): it is computed from the policy's table",
            )
        if minibatch and minibatch.baseline is Baseline.optimal and minibatch.natural:
            raise ConfigError(
                "estimator.baseline=optimal",
                "does not combine with estimator.natural=true: use leave_one_out or value",
            )
        exact = self.estimator if isinstance(self.estimator, ExactEstimatorConfig) else None
        if exact and exact.natural and exact.method is ExactMethod.enumerate:
            raise ConfigError("estimator.natural=true", "needs estimator.method=dp")


SCHEMAS: dict[str, dict[str, type]] = {
    "env": {
        "toy_text": ToyTextEnvConfig,
        "bandit": BanditEnvConfig,
        "chain": ChainEnvConfig,
        "garnet": GarnetEnvConfig,
        "file": FileEnvConfig,
        "torch": TorchEnvConfig,
        "gym": GymEnvConfig,
    },
    "policy": {
        "tabular_softmax": TabularSoftmaxConfig,
        "linear_softmax": LinearSoftmaxConfig,
        "mlp": MLPPolicyConfig,
        "gaussian": GaussianPolicyConfig,
    },
    "estimator": {"exact": ExactEstimatorConfig, "minibatch": MinibatchEstimatorConfig},
    "hardware": {"hardware": HardwareConfig},
    "logger": {"none": NoLoggerConfig, "wandb": WandbLoggerConfig},
}


def config_from_dict(data: dict[str, Any]) -> Config:
    """The typed config of a composed config read back as plain data (a run's
    ``.hydra/config.yaml``): each group's schema is the one whose fields are the group's keys
    (or, for a run from before keys were added, the smallest one that has them all).
    Raises ValueError when a group fits no schema (a run of another pgexp version)."""
    from omegaconf import OmegaConf

    node = OmegaConf.structured(Config)
    for key, value in data.items():
        schemas = SCHEMAS.get(key)
        if schemas is None:
            node = OmegaConf.merge(node, {key: value})
            continue
        keys = set(value or {})
        fits = [s for s in schemas.values() if set(fields_of(s)) == keys]
        fits = fits or sorted(  # a run of an earlier version, without keys added since
            (s for s in schemas.values() if keys < set(fields_of(s))),
            key=lambda s: len(fields_of(s)),
        )
        if not fits:
            raise ValueError(f"{key} has keys {sorted(value or {})}, which no {key} schema has")
        node[key] = OmegaConf.merge(OmegaConf.structured(fits[0]), value)
    return cast(Config, OmegaConf.to_object(node))


def fields_of(schema: type) -> list[str]:
    """The field names of a config dataclass."""
    return [f.name for f in dataclasses.fields(schema)]


def identity(cfg: Config, *, start_keys: bool = False) -> str:
    """What a config computes, as text: the config less the logger (each run has its own) and,
    unless ``start_keys``, less the keys that only say how a run is started or shown
    (``train.progress``, ``resume``, ``overwrite``, ``checkpoint_every``). Equal texts, equal
    numbers."""
    train = cfg.train
    if not start_keys:
        train = dataclasses.replace(
            train, progress=True, resume=False, overwrite=False, checkpoint_every=0
        )
    return repr(dataclasses.replace(cfg, train=train, logger=NoLoggerConfig()))

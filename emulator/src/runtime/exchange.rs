//! One HTTP exchange through a tenant, as one value the host drives. [`Exchange::resume`] runs
//! the tenant up to the next thing only the host can do and says what that is ([`Next`]); the
//! host does it with its own messages and resumes. The order of hooks lives here and nowhere
//! else:
//!
//! - client fork: `on_recv`, `on_hash`; then either a synthetic response (`respond`, or the
//!   decision `synth`) with `on_synth`, or `on_miss` (unless the tenant passes: an uncached
//!   forge or the decision `pass`) and the backend side;
//! - backend fork, made only when tenant code runs there: `on_backend_fetch`, then the forge
//!   callback or the origin, then `on_backend_response`;
//! - client fork: `on_deliver`.
//!
//! A hook paused by `decision` is resumed at once (this exchange has nothing to do between);
//! hosts with a configuration language (Varnish) let it choose. `on_hit` runs only in hosts
//! with a cache, on a hit, instead of all of the backend side; `on_backend_error` only where
//! an origin fetch can fail (Varnish's `vcl_backend_error`).
//!
//! Hosts that run the two sides in different tasks (Varnish) drive the halves, [`ClientSide`]
//! and [`BackendSide`], joined by the client side's decision: a [`BackendPlan`], which
//! serializes to a short string.

use std::borrow::Cow;
use std::sync::Arc;

use super::abi::{Decision, HeaderSet, Hook, DEFAULT_TTL_SECONDS};
use super::calls::{ForgeRequest, GuestFunction, Phase, TenantDecision};
use super::helpers::sha256;
use super::host::{Host, HostResult};
use super::http::{HeaderList, HttpResponse};
use super::tenant::{ErrorKind, Fork, RequestError, StepOutcome, Tenant};

/// The backend name used when the tenant chooses none.
pub const DEFAULT_BACKEND: &str = "default";

/// Which of a request's two forks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// `on_recv`, `on_hash`, `on_deliver`.
    Client,
    /// `on_backend_fetch`, forge callbacks, `on_backend_response`.
    Backend,
}

/// Where the response came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `respond` in `on_recv`: no backend, never cached.
    Synthesized,
    /// A forge callback.
    Forged,
    /// The origin's backend of this name.
    Backend { name: String },
}

/// Whether and how long a cache may keep a response, as the tenant decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheDecision {
    pub cacheable: bool,
    /// 0 when not cacheable.
    pub ttl_seconds: u64,
}

impl CacheDecision {
    pub const UNCACHEABLE: CacheDecision = CacheDecision {
        cacheable: false,
        ttl_seconds: 0,
    };

    /// The tenant's decision, its TTL cut to the tenant's `max_ttl`.
    fn new(cacheable: bool, ttl_seconds: u64, max_ttl_seconds: u64) -> CacheDecision {
        if cacheable {
            CacheDecision {
                cacheable,
                ttl_seconds: ttl_seconds.min(max_ttl_seconds),
            }
        } else {
            CacheDecision::UNCACHEABLE
        }
    }

    /// The `Cache-Control` value that says so to caches behind the host.
    pub fn cache_control(&self) -> String {
        if self.cacheable {
            format!("max-age={}", self.ttl_seconds)
        } else {
            "no-store".into()
        }
    }
}

/// What the client side decided, once `on_recv` (and `on_hash`) ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientDecision {
    /// `on_recv` answered with `respond`: deliver this response; never cached.
    Respond(HttpResponse),
    /// The backend side runs, with this plan.
    Backend(BackendPlan),
}

/// What the backend side does: everything it needs besides the tenant, so a host can hand it
/// to another task ([`BackendPlan::encode_into`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendPlan {
    /// The tenant's forge callback answers.
    Forge(ForgeRequest),
    /// The origin answers; the tenant's backend hooks run around it when `hooks`.
    Origin { hooks: bool },
}

impl BackendPlan {
    /// Whether tenant code runs on the backend side, i.e. it needs a fork. A plain pass to the
    /// origin runs none.
    pub fn runs_tenant_code(&self) -> bool {
        !matches!(self, BackendPlan::Origin { hooks: false })
    }

    /// Appends the plan as one word (no spaces, so a host can put it beside other fields):
    /// `forge:<decision>:<entry>:<data>` (hex addresses), `origin` or `origin+hooks`. Into the
    /// caller's text: hosts encode a plan on every request with a backend side, and a string
    /// of its own (or `format!`) cost more than the rest of the hand-off.
    pub fn encode_into(&self, text: &mut String) {
        match self {
            BackendPlan::Forge(forge) => {
                text.push_str("forge:");
                push_number::<10>(text, forge.decision.number());
                text.push(':');
                push_number::<16>(text, forge.callback.entry);
                text.push(':');
                push_number::<16>(text, forge.callback.data);
            }
            BackendPlan::Origin { hooks: false } => text.push_str("origin"),
            BackendPlan::Origin { hooks: true } => text.push_str("origin+hooks"),
        }
    }

    /// The plan [`BackendPlan::encode_into`] wrote, if `text` is one.
    pub fn decode(text: &str) -> Option<BackendPlan> {
        let mut fields = text.split(':');
        let plan = match fields.next()? {
            "forge" => {
                let decision = Decision::from_number(fields.next()?.parse().ok()?)?;
                let entry = u64::from_str_radix(fields.next()?, 16).ok()?;
                let data = u64::from_str_radix(fields.next()?, 16).ok()?;
                let callback = GuestFunction { entry, data };
                BackendPlan::Forge(ForgeRequest { decision, callback })
            }
            "origin" => BackendPlan::Origin { hooks: false },
            "origin+hooks" => BackendPlan::Origin { hooks: true },
            _ => return None,
        };
        fields.next().is_none().then_some(plan)
    }
}

/// Appends `value` in `RADIX` (2..=16), lower case, without leading zeros. The radix is a
/// constant so that its divisions compile to multiplications and shifts: by a variable one,
/// each digit cost a `div`, tens of cycles, and a Varnish request hands off about a dozen.
fn push_number<const RADIX: u64>(text: &mut String, value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // Filled from the end; u64 has at most 64 digits, in binary.
    let mut digits = [0u8; 64];
    let mut start = digits.len();
    let mut rest = value;
    loop {
        start -= 1;
        digits[start] = DIGITS[usize::try_from(rest % RADIX).unwrap_or(0)];
        rest /= RADIX;
        if rest == 0 {
            break;
        }
    }
    // One copy of the digits: pushed as chars, each cost about 20 instructions, and checking
    // them as UTF-8 about 100 per number.
    let digits = digits.get(start..).unwrap_or_default();
    // SAFETY: every byte is from `DIGITS`: ASCII.
    text.push_str(unsafe { core::str::from_utf8_unchecked(digits) });
}

/// The client side of a request: its fork, for `on_recv`, `on_hash` and `on_deliver`.
#[derive(Debug)]
pub struct ClientSide {
    tenant: Arc<Tenant>,
    fork: Fork,
}

impl ClientSide {
    pub fn new(tenant: &Arc<Tenant>) -> ClientSide {
        ClientSide {
            tenant: Arc::clone(tenant),
            fork: tenant.fork(),
        }
    }

    pub fn tenant(&self) -> &Arc<Tenant> {
        &self.tenant
    }

    /// The fork, for calls by name and statistics.
    pub fn fork(&mut self) -> &mut Fork {
        &mut self.fork
    }

    /// Runs a client-side hook if the tenant registered it; returns whether it did.
    pub fn run_hook(&mut self, hook: Hook, host: &mut dyn Host) -> Result<bool, RequestError> {
        self.fork.run_hook(hook, host)
    }

    /// [`ClientSide::run_hook`] with an argument string for the hook (see
    /// [`Fork::run_hook_with_argument`]).
    pub fn run_hook_with_argument(
        &mut self,
        hook: Hook,
        argument: Option<&str>,
        host: &mut dyn Host,
    ) -> Result<bool, RequestError> {
        self.fork.run_hook_with_argument(hook, argument, host)
    }

    /// What the tenant asked for with `decision`, if it did.
    pub fn tenant_decision(&self) -> Option<&TenantDecision> {
        self.fork.decision()
    }

    /// Whether the tenant passes: the backend response is for this request only, so no cache
    /// lookup (and no `on_miss`) happens for it.
    pub fn passes(&self) -> bool {
        let decided_pass = self
            .fork
            .decision()
            .is_some_and(|decision| decision.name == "pass");
        let uncached_forge = self
            .fork
            .forge_request()
            .is_some_and(|forge| forge.decision == Decision::Uncached);
        decided_pass || uncached_forge
    }

    /// A response `respond` made in a hook other than `on_recv` (`on_synth`), taken once.
    pub fn take_response(&mut self) -> Option<HttpResponse> {
        self.fork.take_response().map(HttpResponse::from_tenant)
    }

    /// What `on_recv` decided (`on_hash` cannot change it). Takes its synthetic response, so
    /// ask once.
    pub fn decision(&mut self) -> ClientDecision {
        if let Some(response) = self.fork.take_response() {
            return ClientDecision::Respond(HttpResponse::from_tenant(response));
        }
        if let Some(decision) = self
            .fork
            .decision()
            .filter(|decision| decision.name == "synth")
        {
            // A synthetic answer with the status only; `on_synth` may write it.
            return ClientDecision::Respond(HttpResponse {
                status: if decision.status == 0 {
                    200
                } else {
                    decision.status
                },
                headers: Vec::new(),
                body: Vec::new(),
            });
        }
        ClientDecision::Backend(match self.fork.forge_request() {
            Some(forge) => BackendPlan::Forge(forge),
            // Backend hooks must be registered in main(), so the template's are the ones.
            None => BackendPlan::Origin {
                hooks: self.tenant.has_hook(Hook::BackendFetch)
                    || self.tenant.has_hook(Hook::BackendResponse),
            },
        })
    }

    /// What `hash_add` added to the cache key.
    pub fn hash_data(&self) -> &[u8] {
        self.fork.hash_data()
    }

    /// The cache key data not taken yet, for hosts that hand it over as it comes (Varnish).
    pub fn take_hash_data(&mut self) -> Vec<u8> {
        self.fork.take_hash_data()
    }
}

/// The backend side of a request: a fork when tenant code runs there, and the response a
/// forge callback built.
#[derive(Debug)]
pub struct BackendSide {
    tenant: Arc<Tenant>,
    plan: BackendPlan,
    fork: Option<Fork>,
    forged: Option<HttpResponse>,
}

impl BackendSide {
    pub fn new(tenant: &Arc<Tenant>, plan: BackendPlan) -> BackendSide {
        BackendSide {
            tenant: Arc::clone(tenant),
            plan,
            fork: plan.runs_tenant_code().then(|| tenant.fork()),
            forged: None,
        }
    }

    pub fn plan(&self) -> BackendPlan {
        self.plan
    }

    /// The fork, if tenant code runs on this side.
    pub fn fork(&mut self) -> Option<&mut Fork> {
        self.fork.as_mut()
    }

    /// Runs a backend-side hook if there is a fork and the tenant registered the hook.
    /// `on_backend_response` of a forged response sees it as `beresp` (the host's `beresp` is
    /// not asked).
    pub fn run_hook(&mut self, hook: Hook, host: &mut dyn Host) -> Result<bool, RequestError> {
        let Some(fork) = &mut self.fork else {
            return Ok(false);
        };
        fork.run_hook(
            hook,
            &mut HookHost {
                host,
                built: self.forged.as_mut(),
            },
        )
    }

    /// [`BackendSide::run_hook`] with an argument string for the hook.
    pub fn run_hook_with_argument(
        &mut self,
        hook: Hook,
        argument: Option<&str>,
        host: &mut dyn Host,
    ) -> Result<bool, RequestError> {
        let Some(fork) = &mut self.fork else {
            return Ok(false);
        };
        fork.run_hook_with_argument(
            hook,
            argument,
            &mut HookHost {
                host,
                built: self.forged.as_mut(),
            },
        )
    }

    /// Makes this side answer with the forge callback `forge` (a host that names the callback
    /// itself, like VCL's `vm_backend(function, argument)`); forks the tenant if it had no fork.
    pub fn forge_with(&mut self, forge: ForgeRequest) {
        self.plan = BackendPlan::Forge(forge);
        if self.fork.is_none() {
            self.fork = Some(self.tenant.fork());
        }
    }

    /// Runs the forge callback of a [`BackendPlan::Forge`]; its response becomes this side's
    /// backend response (and, after `on_backend_response`, the client's).
    pub fn run_forge(&mut self, host: &mut dyn Host) -> Result<&mut HttpResponse, RequestError> {
        let (BackendPlan::Forge(forge), Some(fork)) = (self.plan, &mut self.fork) else {
            return Err(RequestError {
                kind: ErrorKind::NoResponse,
                tenant: self.tenant.name().into(),
                during: Phase::Forge.name(),
                detail: "the client side made no forge request".into(),
            });
        };
        let response = fork.run_forge(forge, host)?;
        Ok(self.forged.insert(HttpResponse::from_tenant(response)))
    }

    /// The response the forge callback built, as the backend hooks left it.
    pub fn take_forged_response(&mut self) -> Option<HttpResponse> {
        self.forged.take()
    }

    /// The backend the tenant chose on this side, if it did.
    pub fn backend_choice(&self) -> Option<&str> {
        self.fork.as_ref()?.backend_choice()
    }

    /// How caches may keep the backend response: a forged response as the forge decision
    /// said unless `cache_set` changed it; an origin response only if `cache_set` was called
    /// (else the host's own rules apply).
    pub fn cache_decision(&self) -> Option<CacheDecision> {
        let setting = self.fork.as_ref().and_then(Fork::cache_setting);
        let max_ttl = self.tenant.limits().max_ttl_seconds;
        match (setting, self.plan) {
            (Some(setting), _) => Some(CacheDecision::new(
                setting.cacheable,
                setting.ttl_seconds,
                max_ttl,
            )),
            (None, BackendPlan::Forge(forge)) => Some(CacheDecision::new(
                forge.decision == Decision::Cached,
                DEFAULT_TTL_SECONDS,
                max_ttl,
            )),
            (None, BackendPlan::Origin { .. }) => None,
        }
    }
}

/// What the host must do before it calls [`Exchange::resume`] again.
#[derive(Debug)]
pub enum Next {
    /// Tenant code that may read the request body runs next: buffer the whole body, so that
    /// [`Host::request_body`] returns it, then resume. Only asked when the exchange was told the
    /// body follows ([`Exchange::request_body_follows`]).
    RequestBody,
    /// Send the backend request (the host's `bereq`, made at [`Host::begin_backend_request`]
    /// and changed by the tenant) to `backend`; resume once the host's `beresp` holds the
    /// origin's response headers.
    Fetch { backend: String },
    /// Answer the client with `response`, made by the tenant (on_recv's `respond` or a forge
    /// callback), its hooks already run on it. The exchange is over.
    Respond {
        response: HttpResponse,
        source: Source,
        cache: CacheDecision,
    },
    /// Deliver the origin's response as the host holds it, the tenant's hooks already run on
    /// it; `cache` is the tenant's `cache_set`, if it called it. The exchange is over.
    Deliver {
        source: Source,
        cache: Option<CacheDecision>,
    },
    /// The tenant failed the request: answer `error_response(&error)` and log `error`. The
    /// exchange is over.
    Failed(RequestError),
    /// Stepping only ([`Exchange::set_stepping`]): a hook or callback is entered in the fork
    /// of `side` and has not run; [`Exchange::step`] runs it an instruction at a time, and
    /// `resume` runs the rest of it and goes on.
    Paused { side: Side, phase: Phase },
}

/// Counters of one exchange, for statistics and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExchangeStats {
    /// What the forks used of their budgets: instructions executed and charged by tenant calls.
    pub instructions: u64,
    /// The part of `instructions` that is the price of tenant calls.
    pub charged_by_calls: u64,
    pub pages_written: usize,
    pub forks: u32,
    /// Time making forks and running tenant code, by the clock given to
    /// [`Exchange::with_clock`] (0 without one).
    pub fork_nanos: u64,
    pub call_nanos: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Recv,
    Hash,
    Decide,
    Synth,
    Miss(BackendPlan),
    BackendStart(BackendPlan),
    BackendFetch,
    Forge(ForgeRequest),
    Fetch,
    AwaitingOrigin,
    BackendResponse,
    Deliver,
    Done,
}

/// A tenant call the exchange makes.
#[derive(Clone, Copy, Debug)]
enum TenantCall {
    Hook(Hook),
    Forge(ForgeRequest),
}

/// One request's exchange with a tenant, between the host's steps: both forks, the responses
/// the tenant made, and where the exchange stands.
#[derive(Debug)]
pub struct Exchange {
    client: ClientSide,
    backend: Option<BackendSide>,
    stage: Stage,
    /// The response `on_recv` made with `respond`.
    synthesized: Option<HttpResponse>,
    /// The backend the request goes to, once asked for.
    backend_name: Option<String>,
    body_follows: bool,
    stepping: bool,
    /// The side whose call is entered and waiting for `step`s or `resume`.
    paused: Option<Side>,
    /// How a paused call ended when `step` ran it to its end.
    stepped: Option<Result<(), RequestError>>,
    clock: Option<fn() -> u64>,
    fork_nanos: u64,
    call_nanos: u64,
    /// The host's seed for the backend fork's randomness ([`Exchange::seed_random`]).
    backend_random_seed: Option<[u8; 32]>,
}

impl Exchange {
    /// A new request to `tenant`: forks its client side. The host's messages hold the client
    /// request; call [`Exchange::resume`].
    pub fn new(tenant: &Arc<Tenant>) -> Exchange {
        Exchange::with_clock(tenant, None)
    }

    /// [`Exchange::new`], timing forks and tenant code with `clock` (monotonic nanoseconds)
    /// for [`Exchange::stats`].
    pub fn with_clock(tenant: &Arc<Tenant>, clock: Option<fn() -> u64>) -> Exchange {
        let start = clock.map_or(0, |clock| clock());
        let client = ClientSide::new(tenant);
        Exchange {
            client,
            backend: None,
            stage: Stage::Recv,
            synthesized: None,
            backend_name: None,
            body_follows: false,
            stepping: false,
            paused: None,
            stepped: None,
            clock,
            fork_nanos: clock.map_or(0, |clock| clock() - start),
            call_nanos: 0,
            backend_random_seed: None,
        }
    }

    /// Seeds the random bytes of this exchange's forks from `seed`, 32 bytes the host drew
    /// from its own CSPRNG (see [`Fork::seed_random`]): the client fork at once, the backend
    /// fork when it is made, each with a stream of its own.
    pub fn seed_random(&mut self, seed: [u8; 32]) {
        let side_seed = |side: &[u8]| sha256(&[&seed[..], side].concat());
        self.client.fork.seed_random(side_seed(b"client"));
        self.backend_random_seed = Some(side_seed(b"backend"));
    }

    /// The request body has not arrived yet (a streaming proxy): the exchange asks for it
    /// ([`Next::RequestBody`]) before tenant code that may read it runs.
    pub fn request_body_follows(&mut self) {
        self.body_follows = true;
    }

    /// With stepping on, every hook and callback first stops entered ([`Next::Paused`]).
    pub fn set_stepping(&mut self, stepping: bool) {
        self.stepping = stepping;
    }

    pub fn tenant(&self) -> &Arc<Tenant> {
        self.client.tenant()
    }

    /// What `hash_add` added to the cache key.
    pub fn hash_data(&self) -> &[u8] {
        self.client.hash_data()
    }

    /// The fork of the paused call, for a debugger's view of pc, registers and memory.
    pub fn paused_fork(&self) -> Option<&Fork> {
        match self.paused? {
            Side::Client => Some(&self.client.fork),
            Side::Backend => self.backend.as_ref()?.fork.as_ref(),
        }
    }

    /// [`Exchange::paused_fork`], for a debugger that changes registers and memory.
    pub fn paused_fork_mut(&mut self) -> Option<&mut Fork> {
        match self.paused? {
            Side::Client => Some(&mut self.client.fork),
            Side::Backend => self.backend.as_mut()?.fork.as_mut(),
        }
    }

    /// Runs the tenant up to the next thing the host must do. `host` holds the host's
    /// messages as they are now: the client request at first, the origin's response after
    /// [`Next::Fetch`].
    pub fn resume(&mut self, host: &mut dyn Host) -> Next {
        match self.advance(host) {
            Ok(next) => next,
            Err(error) => {
                self.stage = Stage::Done;
                Next::Failed(error)
            }
        }
    }

    /// Runs one instruction of the paused call (see [`Next::Paused`]).
    pub fn step(&mut self, host: &mut dyn Host) -> StepOutcome {
        if self.stepped.is_some() {
            return StepOutcome::Finished(Ok(()));
        }
        let Some(side) = self.paused else {
            return StepOutcome::Finished(Ok(()));
        };
        let Some((fork, built)) = self.fork_and_response(side) else {
            return StepOutcome::Finished(Ok(()));
        };
        let outcome = fork.step(&mut HookHost { host, built });
        if let StepOutcome::Finished(result) = &outcome {
            self.stepped = Some(result.clone());
        }
        outcome
    }

    /// Counters so far, over both forks.
    pub fn stats(&mut self) -> ExchangeStats {
        let mut stats = ExchangeStats {
            fork_nanos: self.fork_nanos,
            call_nanos: self.call_nanos,
            ..ExchangeStats::default()
        };
        let backend_fork = self.backend.as_mut().and_then(|side| side.fork.as_mut());
        for fork in std::iter::once(&mut self.client.fork).chain(backend_fork) {
            stats.forks += 1;
            stats.instructions += fork.instructions();
            stats.charged_by_calls += fork.charged_by_calls();
            stats.pages_written += fork.pages_written();
        }
        stats
    }

    fn advance(&mut self, host: &mut dyn Host) -> Result<Next, RequestError> {
        loop {
            match self.stage {
                Stage::Recv | Stage::Hash => {
                    let hook = if self.stage == Stage::Recv {
                        Hook::Recv
                    } else {
                        Hook::Hash
                    };
                    if let Some(paused) = self.call(Side::Client, TenantCall::Hook(hook), host)? {
                        return Ok(paused);
                    }
                    self.stage = if hook == Hook::Recv {
                        Stage::Hash
                    } else {
                        Stage::Decide
                    };
                }
                Stage::Decide => {
                    self.stage = match self.client.decision() {
                        ClientDecision::Respond(response) => {
                            self.synthesized = Some(response);
                            Stage::Synth
                        }
                        ClientDecision::Backend(plan) if self.client.passes() => {
                            Stage::BackendStart(plan)
                        }
                        ClientDecision::Backend(plan) => Stage::Miss(plan),
                    };
                }
                Stage::Synth => {
                    let call = TenantCall::Hook(Hook::Synth);
                    if let Some(paused) = self.call(Side::Client, call, host)? {
                        return Ok(paused);
                    }
                    // `respond` in on_synth writes the synthetic answer.
                    if let Some(response) = self.client.take_response() {
                        self.synthesized = Some(response);
                    }
                    self.stage = Stage::Deliver;
                }
                Stage::Miss(plan) => {
                    let call = TenantCall::Hook(Hook::Miss);
                    if let Some(paused) = self.call(Side::Client, call, host)? {
                        return Ok(paused);
                    }
                    self.stage = Stage::BackendStart(plan);
                }
                Stage::BackendStart(plan) => {
                    if plan.runs_tenant_code() && self.body_follows {
                        self.body_follows = false;
                        return Ok(Next::RequestBody);
                    }
                    host.begin_backend_request();
                    let start = self.now();
                    let mut backend = BackendSide::new(self.client.tenant(), plan);
                    if let (Some(seed), Some(fork)) = (self.backend_random_seed, &mut backend.fork)
                    {
                        fork.seed_random(seed);
                    }
                    self.backend = Some(backend);
                    self.fork_nanos += self.now() - start;
                    self.stage = Stage::BackendFetch;
                }
                Stage::BackendFetch => {
                    let call = TenantCall::Hook(Hook::BackendFetch);
                    if let Some(paused) = self.call(Side::Backend, call, host)? {
                        return Ok(paused);
                    }
                    self.stage = match self.backend_plan() {
                        Some(BackendPlan::Forge(forge)) => Stage::Forge(forge),
                        _ => Stage::Fetch,
                    };
                }
                Stage::Forge(forge) => {
                    if let Some(paused) =
                        self.call(Side::Backend, TenantCall::Forge(forge), host)?
                    {
                        return Ok(paused);
                    }
                    if let Some(side) = &mut self.backend {
                        if let Some(fork) = &mut side.fork {
                            let response = fork.take_forged_response()?;
                            side.forged = Some(HttpResponse::from_tenant(response));
                        }
                    }
                    self.stage = Stage::BackendResponse;
                }
                Stage::Fetch => {
                    let name = self
                        .backend
                        .as_ref()
                        .and_then(BackendSide::backend_choice)
                        .or(self.client.fork.backend_choice())
                        .unwrap_or(DEFAULT_BACKEND)
                        .to_string();
                    self.backend_name = Some(name.clone());
                    self.stage = Stage::AwaitingOrigin;
                    return Ok(Next::Fetch { backend: name });
                }
                Stage::AwaitingOrigin => self.stage = Stage::BackendResponse,
                Stage::BackendResponse => {
                    let call = TenantCall::Hook(Hook::BackendResponse);
                    if let Some(paused) = self.call(Side::Backend, call, host)? {
                        return Ok(paused);
                    }
                    self.stage = Stage::Deliver;
                }
                Stage::Deliver => {
                    let call = TenantCall::Hook(Hook::Deliver);
                    if let Some(paused) = self.call(Side::Client, call, host)? {
                        return Ok(paused);
                    }
                    self.stage = Stage::Done;
                    return Ok(self.answer());
                }
                Stage::Done => {
                    return Err(RequestError {
                        kind: ErrorKind::NoResponse,
                        tenant: self.tenant().name().into(),
                        during: "the host",
                        detail: "resume was called after the exchange ended".into(),
                    })
                }
            }
        }
    }

    /// While the exchange waits for the request body ([`Next::RequestBody`]), the plan of the
    /// backend side that will read it: a host that cannot hold the request meanwhile may
    /// choose by it.
    pub fn plan_awaiting_body(&self) -> Option<BackendPlan> {
        match self.stage {
            Stage::BackendStart(plan) => Some(plan),
            _ => None,
        }
    }

    fn backend_plan(&self) -> Option<BackendPlan> {
        self.backend.as_ref().map(BackendSide::plan)
    }

    /// The exchange's end once `on_deliver` ran.
    fn answer(&mut self) -> Next {
        if let Some(response) = self.synthesized.take() {
            return Next::Respond {
                response,
                source: Source::Synthesized,
                cache: CacheDecision::UNCACHEABLE,
            };
        }
        let cache = self.backend.as_ref().and_then(BackendSide::cache_decision);
        if let Some(response) = self.backend.as_mut().and_then(|side| side.forged.take()) {
            return Next::Respond {
                response,
                source: Source::Forged,
                cache: cache.unwrap_or(CacheDecision::UNCACHEABLE),
            };
        }
        Next::Deliver {
            source: Source::Backend {
                name: self.backend_name.clone().unwrap_or_default(),
            },
            cache,
        }
    }

    /// The fork of `side` and the response the tenant made, if any: hooks see it as `resp`
    /// and `beresp` instead of the host's.
    fn fork_and_response(&mut self, side: Side) -> Option<(&mut Fork, Option<&mut HttpResponse>)> {
        let Exchange {
            client,
            backend,
            synthesized,
            ..
        } = self;
        let (backend_fork, forged) = match backend {
            Some(BackendSide { fork, forged, .. }) => (fork.as_mut(), forged.as_mut()),
            None => (None, None),
        };
        let built = synthesized.as_mut().or(forged);
        let fork = match side {
            Side::Client => Some(&mut client.fork),
            Side::Backend => backend_fork,
        }?;
        Some((fork, built))
    }

    /// Runs `call` in the fork of `side`; nothing if that side has no fork or the tenant did
    /// not register the hook. When stepping, only enters it the first time and returns
    /// [`Next::Paused`]; the next `resume` runs the rest (or takes the end `step` reached).
    fn call(
        &mut self,
        side: Side,
        call: TenantCall,
        host: &mut dyn Host,
    ) -> Result<Option<Next>, RequestError> {
        let stepped = self.stepped.take();
        let stepping = self.stepping;
        let was_paused = self.paused.take().is_some();
        let start = self.now();
        let Some((fork, built)) = self.fork_and_response(side) else {
            return stepped.unwrap_or(Ok(())).map(|()| None);
        };
        if stepped.is_none() && !was_paused {
            match call {
                TenantCall::Hook(hook) => {
                    if !fork.enter_hook(hook) {
                        return Ok(None);
                    }
                }
                TenantCall::Forge(forge) => fork.enter_forge(forge),
            }
            if stepping {
                let phase = fork.entered().unwrap_or(Phase::Forge);
                self.paused = Some(side);
                return Ok(Some(Next::Paused { side, phase }));
            }
        }
        let mut host = HookHost { host, built };
        // A call stepped to its end ended where a run would have; what follows is the same.
        let mut result = match stepped {
            Some(result) => result,
            None => fork.finish(&mut host),
        };
        // Nothing to do between a pause and its resumption here: go on at once.
        while result.is_ok() && fork.is_paused() {
            result = fork.resume(&mut host).map(|_| ());
        }
        self.call_nanos += self.now() - start;
        result.map(|()| None)
    }

    fn now(&self) -> u64 {
        self.clock.map_or(0, |clock| clock())
    }
}

/// The host as one hook of an exchange sees it: `resp` and `beresp` are the response the tenant
/// made when there is one (it exists only in the runtime until the host gets it), everything
/// else is the host's.
struct HookHost<'a> {
    host: &'a mut dyn Host,
    built: Option<&'a mut HttpResponse>,
}

fn is_response(set: HeaderSet) -> bool {
    matches!(set, HeaderSet::Response | HeaderSet::BackendResponse)
}

impl HookHost<'_> {
    fn built(&mut self, set: HeaderSet) -> Option<&mut HttpResponse> {
        self.built.as_deref_mut().filter(|_| is_response(set))
    }
}

impl Host for HookHost<'_> {
    fn header(&mut self, set: HeaderSet, name: &str) -> HostResult<Option<Cow<'_, str>>> {
        if let (true, Some(response)) = (is_response(set), self.built.as_deref()) {
            return Ok(response.headers.header_value(name).map(Cow::Borrowed));
        }
        self.host.header(set, name)
    }

    fn set_header(&mut self, set: HeaderSet, name: &str, value: &str) -> HostResult<()> {
        match self.built(set) {
            Some(response) => {
                response.headers.set_header(name, value);
                Ok(())
            }
            None => self.host.set_header(set, name, value),
        }
    }

    fn append_header(&mut self, set: HeaderSet, name: &str, value: &str) -> HostResult<()> {
        match self.built(set) {
            Some(response) => {
                response.headers.push((name.into(), value.into()));
                Ok(())
            }
            None => self.host.append_header(set, name, value),
        }
    }

    fn unset_header(&mut self, set: HeaderSet, name: &str) -> HostResult<usize> {
        match self.built(set) {
            Some(response) => Ok(response.headers.unset_header(name)),
            None => self.host.unset_header(set, name),
        }
    }

    fn header_count(&mut self, set: HeaderSet) -> HostResult<usize> {
        match self.built(set) {
            Some(response) => Ok(response.headers.len()),
            None => self.host.header_count(set),
        }
    }

    fn header_at(
        &mut self,
        set: HeaderSet,
        index: usize,
    ) -> HostResult<Option<(Cow<'_, str>, Cow<'_, str>)>> {
        if let (true, Some(response)) = (is_response(set), self.built.as_deref()) {
            return Ok(response.headers.header_at(index));
        }
        self.host.header_at(set, index)
    }

    fn url(&mut self, set: HeaderSet) -> HostResult<Cow<'_, str>> {
        self.host.url(set)
    }

    fn set_url(&mut self, set: HeaderSet, url: &str) -> HostResult<()> {
        self.host.set_url(set, url)
    }

    fn method(&mut self, set: HeaderSet) -> HostResult<Cow<'_, str>> {
        self.host.method(set)
    }

    fn set_method(&mut self, set: HeaderSet, method: &str) -> HostResult<()> {
        self.host.set_method(set, method)
    }

    fn status(&mut self, set: HeaderSet) -> HostResult<u16> {
        match self.built(set) {
            Some(response) => Ok(response.status),
            None => self.host.status(set),
        }
    }

    fn set_status(&mut self, set: HeaderSet, status: u16) -> HostResult<()> {
        match self.built(set) {
            Some(response) => {
                response.status = status;
                Ok(())
            }
            None => self.host.set_status(set, status),
        }
    }

    fn request_body(&mut self) -> HostResult<Cow<'_, [u8]>> {
        self.host.request_body()
    }

    fn set_backend(&mut self, name: &str) -> HostResult<()> {
        self.host.set_backend(name)
    }

    fn begin_backend_request(&mut self) {
        self.host.begin_backend_request();
    }

    fn ban(&mut self, expression: &str) -> HostResult<()> {
        self.host.ban(expression)
    }

    fn log(&mut self, message: &str) {
        self.host.log(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `plan` encoded after text already there, which must stay.
    fn encoded(plan: BackendPlan) -> String {
        let mut text = String::from("before ");
        plan.encode_into(&mut text);
        text.strip_prefix("before ").unwrap().to_string()
    }

    #[test]
    fn plans_read_back_as_written_and_nothing_else_reads_as_a_plan() {
        let forge = ForgeRequest {
            decision: Decision::Cached,
            callback: GuestFunction {
                entry: 0x10_2a4e,
                data: u64::MAX,
            },
        };
        // The digits as format! writes them, zero included.
        for (entry, data) in [(0x10_2a4e, u64::MAX), (0, 0), (0xf, 0x10)] {
            let plan = BackendPlan::Forge(ForgeRequest {
                callback: GuestFunction { entry, data },
                ..forge
            });
            let expected = format!("forge:{}:{entry:x}:{data:x}", Decision::Cached.number());
            assert_eq!(encoded(plan), expected);
        }
        for plan in [
            BackendPlan::Forge(forge),
            BackendPlan::Origin { hooks: false },
            BackendPlan::Origin { hooks: true },
        ] {
            let text = encoded(plan);
            assert!(!text.contains(' '), "{text}");
            assert_eq!(BackendPlan::decode(&text), Some(plan));
        }
        for text in [
            "",
            "forge",
            "forge:2:10:0",
            "forge:1:10",
            "forge:1:10:0:1",
            "forge:1:zz:0",
            "origin:",
            "origin+hooks ",
            "Origin",
        ] {
            assert_eq!(BackendPlan::decode(text), None, "{text:?}");
        }
    }
}

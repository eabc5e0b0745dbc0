//! The VMOD's state: per VCL (tenants, backends, the hand-off nonce, this VMOD's directors) and
//! per task (the selected tenant, its fork and what it decided).

use std::collections::hash_map::RandomState;
use std::collections::BTreeMap;
use std::ffi::c_void;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use std::path::{Path, PathBuf};

use arc_swap::ArcSwapOption;
use rvedge::runtime::{
    BackendPlan, BackendSide, ClientSide, Fork, HttpResponse, Limits, ProgramDirectory,
    RequestError, Tenant, TenantDecision, TenantSpec,
};

use crate::ffi;
use crate::handoff::Handoff;
use crate::http::{Backend, RequestBody};
use crate::HOST_CLOCK;

/// A configured tenant: its configuration, and its program once loaded, which a live update
/// can swap while requests run (loading the current program is one atomic load, no lock).
#[derive(Debug)]
pub struct TenantSlot {
    pub spec: TenantSpec,
    /// Where relative filenames are resolved.
    pub directory: PathBuf,
    current: ArcSwapOption<Tenant>,
    /// The program `live_debug()` installed: forks with `debug` run it.
    debug: ArcSwapOption<Tenant>,
    /// Why it has no program (a missing file, or a program that failed to start, under
    /// lenient loading), for fork()'s log line.
    pub unavailable: Option<String>,
    /// The program failed to start (finalize_tenants() fails on it).
    pub boot_failed: bool,
}

impl TenantSlot {
    pub fn new(spec: TenantSpec, directory: PathBuf) -> TenantSlot {
        TenantSlot {
            spec,
            directory,
            current: ArcSwapOption::empty(),
            debug: ArcSwapOption::empty(),
            unavailable: None,
            boot_failed: false,
        }
    }

    pub fn current(&self) -> Option<Arc<Tenant>> {
        self.current.load_full()
    }

    pub fn debug_program(&self) -> Option<Arc<Tenant>> {
        self.debug.load_full()
    }

    /// Loads (or loads again, with new arguments) the program, in vcl_init. Unless `strict`,
    /// a missing file or a program that fails to start leaves the tenant without a program
    /// (fork() says why) and the reason is returned for the log; a program that cannot be used
    /// (unreadable, source code) is always an error.
    pub fn load(&mut self, strict: bool) -> Result<Option<String>, String> {
        self.unavailable = None;
        self.boot_failed = false;
        self.current.store(None);
        let programs = Executables(ProgramDirectory::new(&self.directory));
        let program = match programs.read(&self.spec.filename) {
            Ok(program) => program,
            Err(ProgramError::Missing(message)) if !strict => {
                let reason = format!(
                    "riscv: tenant \"{}\" has no program: {message}",
                    self.spec.name
                );
                self.unavailable = Some(reason.clone());
                return Ok(Some(reason));
            }
            Err(ProgramError::Missing(message) | ProgramError::Unusable(message)) => {
                return Err(format!("riscv: tenant \"{}\": {message}", self.spec.name));
            }
        };
        match Tenant::load(
            &self.spec.name,
            &program,
            self.spec.limits.clone(),
            Some(HOST_CLOCK),
        ) {
            Ok(tenant) => {
                self.current.store(Some(tenant));
                Ok(None)
            }
            Err(error) if strict => Err(format!("riscv: {error}")),
            Err(error) => {
                // add_main_argument() may still fix it; finalize_tenants() reports it.
                let reason = format!("riscv: {error}");
                self.unavailable = Some(reason.clone());
                self.boot_failed = true;
                Ok(Some(reason))
            }
        }
    }

    /// Replaces the program with `program` (see `Tenant::live_update`: state hand-over); a
    /// tenant without one gets it. On error the old one keeps serving.
    pub fn live_update(&self, program: &[u8]) -> Result<(), String> {
        let updated = match self.current() {
            Some(tenant) => on_boot_thread(|| {
                tenant
                    .live_update(program)
                    .map_err(|error| error.to_string())
            })?,
            None => self.boot(program, self.spec.limits.clone())?,
        };
        self.current.store(Some(updated));
        Ok(())
    }

    /// `live_update_file()`: the program of `filename` (relative to the configuration's
    /// directory), with `extra_argument` after the configured arguments. Unlike a live
    /// update by request this boots afresh, so the extra argument reaches `main()`.
    pub fn live_update_file(&self, filename: &str, extra_argument: &str) -> Result<(), String> {
        let programs = Executables(ProgramDirectory::new(&self.directory));
        let program = programs
            .read(filename)
            .map_err(ProgramError::into_message)?;
        if extra_argument.is_empty() {
            return self.live_update(&program);
        }
        let mut limits = self.spec.limits.clone();
        limits.arguments.push(extra_argument.to_string());
        let tenant = self.boot(&program, limits)?;
        self.current.store(Some(tenant));
        Ok(())
    }

    /// This tenant with `program` booted afresh under `limits`, at run time.
    fn boot(&self, program: &[u8], limits: Limits) -> Result<Arc<Tenant>, String> {
        on_boot_thread(|| {
            Tenant::load(&self.spec.name, program, limits, Some(HOST_CLOCK))
                .map_err(|error| error.to_string())
        })
    }

    /// Installs a debug program (`live_debug()`): forks with `debug` run it.
    pub fn install_debug_program(&self, program: &[u8]) -> Result<(), String> {
        let tenant = on_boot_thread(|| {
            Tenant::load_debug(
                &self.spec.name,
                program,
                self.spec.limits.clone(),
                Some(HOST_CLOCK),
            )
            .map_err(|error| error.to_string())
        })?;
        self.debug.store(Some(tenant));
        Ok(())
    }
}

/// Stack of the thread a program boots on at run time.
const BOOT_STACK_BYTES: usize = 8 << 20;

/// Runs `load` (a program's `main()`, deep in the runtime) on a thread of its own with a
/// [`BOOT_STACK_BYTES`] stack: live updates come in on Varnish's worker threads, whose stacks
/// (`thread_pool_stack`) are sized for VCL, and a debug build of the interpreter overflowed them.
fn on_boot_thread<T: Send>(load: impl FnOnce() -> Result<T, String> + Send) -> Result<T, String> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("rvedge-boot".into())
            .stack_size(BOOT_STACK_BYTES)
            .spawn_scoped(scope, load)
            .map_err(|error| format!("riscv: cannot start a thread to boot the program: {error}"))?
            .join()
            .map_err(|_| "riscv: booting the program panicked".to_string())?
    })
}

/// Why a program file cannot be used.
#[derive(Debug)]
pub enum ProgramError {
    /// There is no such file (libvmod-riscv lets tenants start without one).
    Missing(String),
    /// Anything else: unreadable, or source code.
    Unusable(String),
}

impl ProgramError {
    fn into_message(self) -> String {
        match self {
            ProgramError::Missing(message) | ProgramError::Unusable(message) => message,
        }
    }
}

/// Tenant programs as files, which must be built executables: the VMOD compiles nothing, so
/// no compiler ever runs on tenant code on the varnishd host.
pub struct Executables(pub ProgramDirectory);

/// Filenames that name source code rather than a program.
fn is_source(path: &Path) -> bool {
    let extension = path.extension().and_then(|extension| extension.to_str());
    matches!(extension, Some("c" | "cc" | "cpp" | "cxx" | "rs")) || path.is_dir()
}

impl Executables {
    pub fn read(&self, filename: &str) -> Result<Vec<u8>, ProgramError> {
        let path = self.0.resolve(filename);
        if is_source(&path) {
            return Err(ProgramError::Unusable(format!(
                "{} is source code, and the VMOD does not compile tenants on the varnishd \
                 host: build it first (scripts/build-tenants.sh, or riscv64-linux-gnu-g++ \
                 -static -I tenants/include) and name the executable",
                path.display()
            )));
        }
        std::fs::read(&path).map_err(|error| {
            let message = format!("cannot read {}: {error}", path.display());
            if error.kind() == std::io::ErrorKind::NotFound {
                ProgramError::Missing(message)
            } else {
                ProgramError::Unusable(message)
            }
        })
    }
}

/// libvmod-riscv's debugger port.
pub const DEFAULT_DEBUG_PORT: u16 = 2159;

/// Request bodies a tenant may read when the VCL sets no other limit.
pub const DEFAULT_MAX_REQUEST_BODY: usize = 4 << 20;

/// The secrets that allow replacing a tenant's program, kept as SHA-256 digests so a
/// comparison takes the same time whatever the length of a guess.
#[derive(Debug, Default)]
pub struct UpdateSecrets {
    for_vcl: Option<[u8; 32]>,
    by_tenant: BTreeMap<String, [u8; 32]>,
}

impl UpdateSecrets {
    /// Sets the secret of `tenant`, or of every tenant without its own when `tenant` is
    /// empty. An empty secret is refused: it would match a request without one.
    pub fn set(&mut self, tenant: &str, secret: &str) -> Result<(), String> {
        if secret.is_empty() {
            return Err("riscv.set_update_secret: the secret must not be empty".into());
        }
        let digest = digest(secret.as_bytes());
        if tenant.is_empty() {
            self.for_vcl = Some(digest);
        } else {
            self.by_tenant.insert(tenant.to_string(), digest);
        }
        Ok(())
    }

    /// Whether `given` is the secret that allows updating `tenant`. With no secret configured
    /// for it, nothing is allowed.
    pub fn allows(&self, tenant: &str, given: &[u8]) -> bool {
        let Some(expected) = self.by_tenant.get(tenant).or(self.for_vcl.as_ref()) else {
            return false;
        };
        let given = digest(given);
        // No early exit: the time taken does not tell how much of a guess was right.
        given
            .iter()
            .zip(expected)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
    }

    pub fn is_configured(&self, tenant: &str) -> bool {
        self.for_vcl.is_some() || self.by_tenant.contains_key(tenant)
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    rvedge::runtime::helpers::sha256(bytes)
}

/// Everything one loaded VCL shares between its tasks. Built in `vcl_init` (the only time it
/// is changed: Varnish runs no request on a VCL before its vcl_init is done), then only read,
/// from every worker thread.
#[derive(Debug)]
pub struct VclState {
    pub tenants: BTreeMap<String, TenantSlot>,
    pub backends: BTreeMap<String, Backend>,
    pub update_secrets: UpdateSecrets,
    /// Most bytes of a client request body a tenant may read; more is answered 413.
    pub max_request_body: usize,
    /// A missing program file, or a program that fails to start, fails vcl_init (else the
    /// tenant is left without a program).
    pub strict_loading: bool,
    /// Where a debug program's `breakpoint()` waits for a debugger, and how long.
    pub debug_port: u16,
    pub debug_timeout: std::time::Duration,
    /// Proves a hand-off header was written by this VCL (see `handoff.rs`): 16 hex digits,
    /// kept as text because every request writing a hand-off copies it.
    pub nonce: String,
    pub vm_backend: Backend,
    pub update_backend: Backend,
}

impl VclState {
    pub fn new() -> VclState {
        // RandomState is seeded from the OS per process and per instance.
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(std::process::id().into());
        VclState {
            tenants: BTreeMap::new(),
            backends: BTreeMap::new(),
            update_secrets: UpdateSecrets::default(),
            max_request_body: DEFAULT_MAX_REQUEST_BODY,
            strict_loading: false,
            debug_port: DEFAULT_DEBUG_PORT,
            debug_timeout: std::time::Duration::from_secs(30),
            nonce: format!("{:016x}", hasher.finish()),
            vm_backend: Backend(std::ptr::null()),
            update_backend: Backend(std::ptr::null()),
        }
    }

    /// finalize_tenants(): every tenant's program started, or the first reason why not.
    pub fn check_tenants_started(&self) -> Result<(), String> {
        match self.tenants.values().find(|slot| slot.boot_failed) {
            Some(slot) => Err(slot.unavailable.clone().unwrap_or_default()),
            None => Ok(()),
        }
    }
}

/// Which side of a request a task is: the runtime's half of the exchange it runs.
#[derive(Debug)]
pub enum Side {
    Client(ClientSide),
    Backend(BackendSide),
}

/// What the tenant wants the VCL to do (`want_result()`, `result_value()`), as
/// libvmod-riscv reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Want {
    Nothing,
    /// It answered (`respond`), or failed: `synth` with the status.
    Synth,
    /// It forged: `backend`, with (cached, callback entry, callback data).
    Backend {
        cached: bool,
        entry: u64,
        data: u64,
    },
    /// It called `decision`: that name, with its status.
    Decision(TenantDecision),
}

impl Want {
    /// `result_value(index)`: the numbers that go with the result.
    pub fn value(&self, status: u16, index: i64) -> i64 {
        let values: [i64; 3] = match self {
            Want::Nothing => [0, 0, 0],
            Want::Synth => [i64::from(status), 0, 0],
            Want::Backend {
                cached,
                entry,
                data,
            } => [i64::from(*cached), *entry as i64, *data as i64],
            Want::Decision(decision) => [i64::from(decision.status), 0, 0],
        };
        usize::try_from(index)
            .ok()
            .and_then(|index| values.get(index).copied())
            .unwrap_or(0)
    }
}

/// One task's tenant state (PRIV_TASK): a request's client side or its backend side.
#[derive(Debug)]
pub struct Task {
    pub vcl: *const VclState,
    pub tenant: Arc<Tenant>,
    pub side: Side,
    pub want: Want,
    pub status: u16,
    /// The answer `respond` gave in `on_recv`.
    pub synth: Option<HttpResponse>,
    /// Why the tenant failed this task, if it did.
    pub error: Option<RequestError>,
    /// Backend side: what the client side handed over.
    pub handoff: Option<Handoff<'static>>,
    /// Backend side: the client request's body, read when the tenant asks for it.
    pub body: RequestBody,
    /// The tenant's name was added to the cache key (client side).
    pub hashed: bool,
    /// The argument of the `run(arg)` or `vcall(hook, arg)` being served, for the hook.
    pub argument: Option<String>,
    /// The fork runs the tenant's debug program (`fork(tenant, debug)`).
    pub debug: bool,
}

impl Task {
    /// A request's client side: forks the tenant.
    pub fn client(vcl: &VclState, tenant: Arc<Tenant>) -> Task {
        let side = Side::Client(ClientSide::new(&tenant));
        Task::new(vcl, tenant, side)
    }

    /// A request's backend side for `plan` (forks the tenant if its code runs there).
    pub fn backend(vcl: &VclState, tenant: Arc<Tenant>, plan: BackendPlan) -> Task {
        let side = Side::Backend(BackendSide::new(&tenant, plan));
        Task::new(vcl, tenant, side)
    }

    fn new(vcl: &VclState, tenant: Arc<Tenant>, side: Side) -> Task {
        Task {
            vcl,
            tenant,
            side,
            want: Want::Nothing,
            status: 0,
            synth: None,
            error: None,
            handoff: None,
            body: RequestBody::Unread,
            hashed: false,
            argument: None,
            debug: false,
        }
    }

    pub fn is_client(&self) -> bool {
        matches!(self.side, Side::Client(_))
    }

    /// The task's fork, if tenant code runs on its side.
    pub fn fork(&mut self) -> Option<&mut Fork> {
        match &mut self.side {
            Side::Client(client) => Some(client.fork()),
            Side::Backend(backend) => backend.fork(),
        }
    }

    pub fn vcl(&self) -> &VclState {
        // SAFETY: a task never outlives its VCL: Varnish finishes every task of a VCL before it
        // discards it (and the VclState with it).
        unsafe { &*self.vcl }
    }
}

// The key of this VMOD's PRIV_TASK: its address identifies the slot (VRT_priv_task).
static TASK_KEY: u8 = 0;

fn task_key() -> *const c_void {
    (&TASK_KEY as *const u8).cast::<c_void>()
}

/// `vmod_priv_methods` in a static: varnishd only reads it.
struct PrivMethods(ffi::vmod_priv_methods);

// SAFETY: immutable data (a magic number, a static C string and a function pointer).
unsafe impl Sync for PrivMethods {}

static TASK_IN_WORKSPACE: PrivMethods = PrivMethods(ffi::vmod_priv_methods {
    magic: ffi::VMOD_PRIV_METHODS_MAGIC,
    type_: c"riscv task (workspace)".as_ptr(),
    fini: Some(drop_task_in_workspace),
});

static TASK_ON_HEAP: PrivMethods = PrivMethods(ffi::vmod_priv_methods {
    magic: ffi::VMOD_PRIV_METHODS_MAGIC,
    type_: c"riscv task (heap)".as_ptr(),
    fini: Some(drop_task_on_heap),
});

unsafe extern "C" fn drop_task_in_workspace(_ctx: *const ffi::vrt_ctx, task: *mut c_void) {
    // SAFETY: `install_task` wrote a Task there; the workspace itself is freed by Varnish.
    unsafe { std::ptr::drop_in_place(task.cast::<Task>()) };
}

unsafe extern "C" fn drop_task_on_heap(_ctx: *const ffi::vrt_ctx, task: *mut c_void) {
    // SAFETY: `install_task` made it with Box::into_raw.
    drop(unsafe { Box::from_raw(task.cast::<Task>()) });
}

// WS_Alloc aligns to pointer size; the Task must not need more.
const _: () = assert!(std::mem::align_of::<Task>() <= std::mem::align_of::<*const c_void>());

/// This task's state, if `install_task` made one.
///
/// # Safety
/// `ctx` is a valid task context (client or backend side); the result must not be held
/// across another call that could give out the same task.
pub unsafe fn task<'a>(ctx: *const ffi::vrt_ctx) -> Option<&'a mut Task> {
    // SAFETY: the caller gives a valid ctx; our slot holds null or a Task we installed.
    unsafe {
        let slot = ffi::VRT_priv_task_get(ctx, task_key());
        if slot.is_null() {
            return None;
        }
        (*slot).priv_.cast::<Task>().as_mut()
    }
}

/// Stores `new` as this task's state (replacing any earlier one), in the task's workspace when
/// it fits, else on the heap.
///
/// # Safety
/// `ctx` is a valid task context; no reference from `task()` may be alive.
pub unsafe fn install_task<'a>(
    ctx: *const ffi::vrt_ctx,
    new: Task,
) -> Result<&'a mut Task, String> {
    // SAFETY: a valid ctx; the slot belongs to this VMOD (our key), and its priv is null or a
    // Task we installed with the matching fini method.
    unsafe {
        let slot = ffi::VRT_priv_task(ctx, task_key());
        if slot.is_null() {
            return Err("out of workspace for the task's state".into());
        }
        let old = (*slot).priv_;
        if !old.is_null() {
            if let Some(fini) = (*slot).methods.as_ref().and_then(|methods| methods.fini) {
                fini(ctx, old);
            }
            (*slot).priv_ = std::ptr::null_mut();
        }
        let size = std::ffi::c_uint::try_from(std::mem::size_of::<Task>())
            .map_err(|_| "task state too large".to_string())?;
        let memory = ffi::WS_Alloc((*ctx).ws, size).cast::<Task>();
        let (place, methods) = if memory.is_null() {
            (Box::into_raw(Box::new(new)), &TASK_ON_HEAP.0)
        } else {
            memory.write(new);
            (memory, &TASK_IN_WORKSPACE.0)
        };
        (*slot).priv_ = place.cast::<c_void>();
        (*slot).methods = methods;
        Ok(&mut *place)
    }
}

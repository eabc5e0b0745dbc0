//! Compiled filters, VMs, and the order of callbacks for one HTTP stream.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::{
    Config, Engine, InstancePre, Linker, Module, ProfilingStrategy, Store, Trap, TypedFunc,
};
use wasmtime_wasi::WasiCtxBuilder;

use crate::abi::LogLevel;
use crate::hostcalls::{
    self, lower_case_names, HeaderAccess, HostState, LogBuffer, MemoryLimiter, PluginIdentity,
    StreamMap, StreamState,
};
use crate::output::CapturedOutput;
use crate::{HostError, HostLimits, LogEntry, Request, RequestOutcome, Response, Upstream};

/// A compiled filter with the host functions linked once: cheap to clone, shared by every VM
/// (and thread) that runs it.
#[derive(Clone)]
pub struct FilterModule {
    inner: Arc<ModuleInner>,
}

struct ModuleInner {
    engine: Engine,
    instance_pre: InstancePre<HostState>,
    limits: HostLimits,
    /// The epoch ticker (if any) runs while this lives.
    _ticker_alive: Arc<()>,
}

/// Period of the epoch ticker behind [`HostLimits::callback_time_limit`].
const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Advances the engine's epoch every [`EPOCH_TICK`] until the module is dropped.
fn start_epoch_ticker(engine: &Engine) -> Result<Arc<()>, HostError> {
    let alive = Arc::new(());
    let watched = Arc::downgrade(&alive);
    let engine = engine.clone();
    std::thread::Builder::new()
        .name("proxy-wasm-epoch".into())
        .spawn(move || {
            while watched.strong_count() > 0 {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .map_err(|error| HostError::Compile(format!("cannot start the epoch ticker: {error}")))?;
    Ok(alive)
}

impl std::fmt::Debug for FilterModule {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        out.debug_struct("FilterModule")
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl FilterModule {
    /// Compiles `wasm` (binary, or text with wasmtime's `wat` feature) and links it against
    /// the proxy-wasm and WASI preview1 host functions.
    pub fn new(wasm: &[u8], limits: HostLimits) -> Result<FilterModule, HostError> {
        FilterModule::compile(wasm, limits, ProfilingStrategy::None)
    }

    /// As [`FilterModule::new`], with wasmtime listing the compiled functions in
    /// `/tmp/perf-<pid>.map` (by the names in the module's name section), so a profiler can
    /// name the filter's own code (`scripts/filter-instructions.sh`).
    pub fn new_with_perf_map(wasm: &[u8], limits: HostLimits) -> Result<FilterModule, HostError> {
        FilterModule::compile(wasm, limits, ProfilingStrategy::PerfMap)
    }

    fn compile(
        wasm: &[u8],
        limits: HostLimits,
        profiler: ProfilingStrategy,
    ) -> Result<FilterModule, HostError> {
        let mut config = Config::new();
        config.profiler(profiler);
        config.consume_fuel(limits.fuel_per_callback > 0);
        config.epoch_interruption(limits.callback_time_limit.is_some());
        let engine = Engine::new(&config).map_err(|error| HostError::Compile(error.to_string()))?;
        let ticker_alive = match limits.callback_time_limit {
            Some(_) => start_epoch_ticker(&engine)?,
            None => Arc::new(()),
        };
        let module =
            Module::new(&engine, wasm).map_err(|error| HostError::Compile(format!("{error:#}")))?;
        let speaks_abi_0_2 = module.exports().any(|export| {
            matches!(
                export.name(),
                "proxy_abi_version_0_2_1" | "proxy_abi_version_0_2_0"
            )
        });
        if !speaks_abi_0_2 {
            return Err(HostError::UnsupportedAbi);
        }
        let mut linker = Linker::new(&engine);
        let link = |linker: &mut Linker<HostState>| -> wasmtime::Result<()> {
            wasmtime_wasi::p1::add_to_linker_sync(linker, |state: &mut HostState| &mut state.wasi)?;
            hostcalls::add_to_linker(linker)?;
            // Calls this host does not provide (proxy_http_call, gRPC, queues, ...) trap with
            // their name when used, so filters that never use them still load.
            linker.define_unknown_imports_as_traps(&module)?;
            Ok(())
        };
        link(&mut linker).map_err(|error| HostError::Compile(format!("{error:#}")))?;
        let instance_pre = linker
            .instantiate_pre(&module)
            .map_err(|error| HostError::Compile(format!("{error:#}")))?;
        Ok(FilterModule {
            inner: Arc::new(ModuleInner {
                engine,
                instance_pre,
                limits,
                _ticker_alive: ticker_alive,
            }),
        })
    }

    pub fn limits(&self) -> HostLimits {
        self.inner.limits
    }
}

/// A stream (HTTP context) of a [`FilterVm`], from [`RequestOutcome::Forward`] to
/// [`FilterVm::on_response`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamId {
    /// Which life of the VM opened it: a VM restarted after a failure forgets its streams.
    generation: u64,
    context_id: u32,
}

/// `proxy_on_{request,response}_{headers,body}(context, size, end_of_stream)`.
type MessageCallback = TypedFunc<(i32, i32, i32), i32>;

/// The filter's exports the host calls; optional ones may be missing.
struct Callbacks {
    on_context_create: TypedFunc<(i32, i32), ()>,
    on_vm_start: Option<TypedFunc<(i32, i32), i32>>,
    on_configure: Option<TypedFunc<(i32, i32), i32>>,
    on_tick: Option<TypedFunc<i32, ()>>,
    on_request_headers: Option<MessageCallback>,
    on_request_body: Option<MessageCallback>,
    on_response_headers: Option<MessageCallback>,
    on_response_body: Option<MessageCallback>,
    on_log: Option<TypedFunc<i32, ()>>,
    on_done: Option<TypedFunc<i32, i32>>,
    on_delete: Option<TypedFunc<i32, ()>>,
}

struct Running {
    store: Store<HostState>,
    /// Shared so a phase can hold the exports while calling them on the store (cloning a
    /// `TypedFunc` per call costs more than the call).
    callbacks: Arc<Callbacks>,
}

/// Which message of a stream a callback is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Request,
    Response,
}

/// Why a callback did not return normally.
struct Failure(String);

const ROOT_CONTEXT_ID: u32 = 1;

/// One instantiated filter with its root context configured (Envoy runs one per worker
/// thread). A VM that fails is dropped and started again from the same configuration before
/// the next request.
pub struct FilterVm {
    module: FilterModule,
    identity: PluginIdentity,
    vm_configuration: Vec<u8>,
    plugin_configuration: Vec<u8>,
    running: Option<Running>,
    generation: u64,
    next_context_id: u32,
    /// Log lines of VMs already dropped, and the host's own lines about them.
    logs: Vec<LogEntry>,
    restarts: u64,
    /// Envoy's PluginConfig `allow_on_headers_stop_iteration` (see
    /// [`FilterVm::allow_on_headers_stop_iteration`]).
    allow_on_headers_stop_iteration: bool,
}

/// The proxy-wasm action Continue, as callbacks return it.
const ACTION_CONTINUE: i32 = 0;

impl std::fmt::Debug for FilterVm {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        out.debug_struct("FilterVm")
            .field("identity", &self.identity)
            .field("generation", &self.generation)
            .field("running", &self.running.is_some())
            .finish_non_exhaustive()
    }
}

impl FilterVm {
    /// Instantiates the module, runs `_initialize` (or `_start`), `proxy_on_vm_start` and
    /// `proxy_on_configure` on a root context. A false from either callback is an error
    /// carrying the filter's log lines.
    pub fn start(
        module: &FilterModule,
        vm_configuration: &[u8],
        plugin_configuration: &[u8],
    ) -> Result<FilterVm, HostError> {
        let identity = PluginIdentity {
            name: "rvedge".into(),
            root_id: String::new(),
            vm_id: String::new(),
        };
        FilterVm::start_as(module, identity, vm_configuration, plugin_configuration)
    }

    /// [`FilterVm::start`] with the plugin's name, root id and VM id (the `plugin_*`
    /// properties).
    pub fn start_as(
        module: &FilterModule,
        identity: PluginIdentity,
        vm_configuration: &[u8],
        plugin_configuration: &[u8],
    ) -> Result<FilterVm, HostError> {
        let mut vm = FilterVm {
            module: module.clone(),
            identity,
            vm_configuration: vm_configuration.to_vec(),
            plugin_configuration: plugin_configuration.to_vec(),
            running: None,
            generation: 0,
            next_context_id: ROOT_CONTEXT_ID + 1,
            logs: Vec::new(),
            restarts: 0,
            allow_on_headers_stop_iteration: false,
        };
        vm.boot()?;
        Ok(vm)
    }

    /// Envoy's (≥ 1.35) Wasm PluginConfig field of this name, false by default as in Envoy:
    /// whether a pause in the request headers callback still lets the body callbacks come.
    /// Without it Envoy turns that pause into StopAllIterationAndWatermark and the stream
    /// hangs; this host answers such a stream with a local 500 and a critical log line
    /// instead of waiting.
    pub fn allow_on_headers_stop_iteration(&mut self, allow: bool) {
        self.allow_on_headers_stop_iteration = allow;
    }

    fn boot(&mut self) -> Result<(), HostError> {
        let inner = &self.module.inner;
        let stdout = CapturedOutput::default();
        let stderr = CapturedOutput::default();
        // No preopened directories, environment or arguments: the filter sees no host files.
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build_p1();
        let state = HostState {
            wasi,
            limiter: MemoryLimiter {
                max_memory_bytes: inner.limits.max_memory_bytes,
                exceeded: false,
            },
            stdout,
            stderr,
            vm_configuration: self.vm_configuration.clone(),
            plugin_configuration: self.plugin_configuration.clone(),
            identity: self.identity.clone(),
            logs: LogBuffer::default(),
            root_context_id: ROOT_CONTEXT_ID,
            effective_context_id: ROOT_CONTEXT_ID,
            streams: StreamMap::default(),
            tick_period_millis: 0,
            root_properties: HashMap::new(),
            shared_data: HashMap::new(),
            metrics: Vec::new(),
            memory: None,
            allocate: None,
        };
        let mut store = Store::new(&inner.engine, state);
        store.limiter(|state| &mut state.limiter);
        let start_error = |store: &mut Store<HostState>, error: wasmtime::Error| {
            let cause = classify(&error, store.data(), inner.limits);
            store.data_mut().drain_output(true);
            let mut message = cause;
            for entry in store.data().logs.entries() {
                message.push_str(&format!("\n  {entry}"));
            }
            HostError::Start(message)
        };
        if inner.limits.fuel_per_callback > 0 {
            set_fuel(&mut store, inner.limits.fuel_for_start);
        }
        // Starting has no time limit; callbacks set their own deadline.
        store.set_epoch_deadline(u64::MAX / 2);
        let instance = match inner.instance_pre.instantiate(&mut store) {
            Ok(instance) => instance,
            Err(error) => return Err(start_error(&mut store, error)),
        };
        let memory = instance.get_memory(&mut store, "memory");
        let allocate = instance
            .get_typed_func::<i32, i32>(&mut store, "proxy_on_memory_allocate")
            .or_else(|_| instance.get_typed_func::<i32, i32>(&mut store, "malloc"))
            .ok();
        store.data_mut().memory = memory;
        store.data_mut().allocate = allocate;
        let optional = |store: &mut Store<HostState>, name: &str| {
            instance.get_export(&mut *store, name).is_some()
        };
        macro_rules! typed {
            ($name:literal) => {
                if optional(&mut store, $name) {
                    Some(
                        instance
                            .get_typed_func(&mut store, $name)
                            .map_err(|error| HostError::Start(format!("{}: {error}", $name)))?,
                    )
                } else {
                    None
                }
            };
        }
        let on_context_create: Option<TypedFunc<(i32, i32), ()>> =
            typed!("proxy_on_context_create");
        let Some(on_context_create) = on_context_create else {
            return Err(HostError::Start(
                "the filter exports no proxy_on_context_create".into(),
            ));
        };
        let callbacks = Callbacks {
            on_context_create,
            on_vm_start: typed!("proxy_on_vm_start"),
            on_configure: typed!("proxy_on_configure"),
            on_tick: typed!("proxy_on_tick"),
            on_request_headers: typed!("proxy_on_request_headers"),
            on_request_body: typed!("proxy_on_request_body"),
            on_response_headers: typed!("proxy_on_response_headers"),
            on_response_body: typed!("proxy_on_response_body"),
            on_log: typed!("proxy_on_log"),
            on_done: typed!("proxy_on_done"),
            on_delete: typed!("proxy_on_delete"),
        };
        // Reactors export _initialize (the SDK's cdylib filters); commands export _start.
        for entry_point in ["_initialize", "_start"] {
            let Ok(function) = instance.get_typed_func::<(), ()>(&mut store, entry_point) else {
                continue;
            };
            if let Err(error) = function.call(&mut store, ()) {
                let exited_cleanly = error
                    .downcast_ref::<wasmtime_wasi::I32Exit>()
                    .is_some_and(|exit| exit.0 == 0);
                if !exited_cleanly {
                    return Err(start_error(&mut store, error));
                }
            }
            break;
        }
        let root = ROOT_CONTEXT_ID as i32;
        let accepted = |store: &mut Store<HostState>,
                        function: Option<TypedFunc<(i32, i32), i32>>,
                        size: usize|
         -> Result<bool, HostError> {
            let Some(function) = function else {
                return Ok(true);
            };
            match function.call(&mut *store, (root, size as i32)) {
                Ok(result) => Ok(result != 0),
                Err(error) => Err(start_error(store, error)),
            }
        };
        if let Err(error) = callbacks.on_context_create.call(&mut store, (root, 0)) {
            return Err(start_error(&mut store, error));
        }
        let vm_configuration_size = self.vm_configuration.len();
        if !accepted(
            &mut store,
            callbacks.on_vm_start.clone(),
            vm_configuration_size,
        )? {
            store.data_mut().drain_output(true);
            return Err(HostError::VmStartRejected {
                logs: store.data_mut().logs.take(),
            });
        }
        let plugin_configuration_size = self.plugin_configuration.len();
        if !accepted(
            &mut store,
            callbacks.on_configure.clone(),
            plugin_configuration_size,
        )? {
            store.data_mut().drain_output(true);
            return Err(HostError::ConfigurationRejected {
                logs: store.data_mut().logs.take(),
            });
        }
        store.data_mut().drain_output(false);
        self.running = Some(Running {
            store,
            callbacks: Arc::new(callbacks),
        });
        Ok(())
    }

    /// Starts the VM again if a failure dropped it.
    fn ensure_running(&mut self) -> Result<(), HostError> {
        if self.running.is_some() {
            return Ok(());
        }
        self.restarts += 1;
        self.boot()?;
        self.host_log(
            LogLevel::Info,
            format!(
                "proxy-wasm: VM restarted ({} restart(s) so far)",
                self.restarts
            ),
        );
        Ok(())
    }

    /// How many times a failed VM was started again.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// The tick period the filter asked for with `proxy_set_tick_period_milliseconds`.
    pub fn tick_period(&self) -> Option<Duration> {
        let millis = self.running.as_ref()?.store.data().tick_period_millis;
        (millis > 0).then(|| Duration::from_millis(millis.into()))
    }

    /// Calls `proxy_on_tick` on the root context (the embedder decides when, from
    /// [`FilterVm::tick_period`]). A failure is logged and restarts the VM.
    pub fn tick(&mut self) -> Result<(), HostError> {
        self.ensure_running()?;
        let running = self.running.as_mut().expect("just ensured");
        let callbacks = Arc::clone(&running.callbacks);
        let Some(on_tick) = &callbacks.on_tick else {
            return Ok(());
        };
        if let Err(failure) = self.call(ROOT_CONTEXT_ID, |store| {
            on_tick.call(store, ROOT_CONTEXT_ID as i32)
        }) {
            self.fail(None, failure);
        }
        Ok(())
    }

    /// Client side: opens a stream, runs the request headers callback (and the request body
    /// callback with `end_of_stream = true` when the request has a body). Either the filter
    /// answered, or the request as the filter left it goes upstream.
    pub fn on_request(&mut self, request: Request) -> Result<RequestOutcome, HostError> {
        Ok(match self.open_stream(request)? {
            Opened::Answered(response) => RequestOutcome::LocalReply(response),
            Opened::Forward(stream) => {
                let stream_state = self.open_stream_state(stream.context_id);
                RequestOutcome::Forward {
                    stream,
                    request: request_from_map(
                        &stream_state.request_headers,
                        stream_state.request_body.clone(),
                    ),
                }
            }
        })
    }

    /// [`FilterVm::on_request`] up to the request the filter left: the stream stays open
    /// with it unless the filter answered.
    fn open_stream(&mut self, request: Request) -> Result<Opened, HostError> {
        self.ensure_running()?;
        let context_id = self.next_context_id;
        self.next_context_id = self
            .next_context_id
            .checked_add(1)
            .unwrap_or(ROOT_CONTEXT_ID + 1);
        let stream = StreamId {
            generation: self.generation,
            context_id,
        };
        let has_body = !request.body.is_empty();
        let n_headers = request.headers.len() + 4;
        let body_size = request.body.len();
        let running = self.running.as_mut().expect("just ensured");
        let (request_headers, request_body) = request_map(request);
        running.store.data_mut().streams.insert(
            context_id,
            StreamState {
                request_headers,
                request_body,
                ..StreamState::default()
            },
        );
        let callbacks = Arc::clone(&running.callbacks);
        let on_context_create = &callbacks.on_context_create;
        let on_request_headers = &callbacks.on_request_headers;
        let on_request_body = &callbacks.on_request_body;
        let id = context_id as i32;
        let phase = (|| -> Result<Option<Response>, Failure> {
            self.call(context_id, |store| {
                on_context_create.call(store, (id, ROOT_CONTEXT_ID as i32))
            })?;
            self.deliver_message(
                context_id,
                [on_request_headers, on_request_body],
                n_headers,
                has_body.then_some(body_size),
                Direction::Request,
            )
        })();
        Ok(match phase {
            Err(failure) => Opened::Answered(self.fail(Some(stream), failure)),
            Ok(Some(reply)) => Opened::Answered(self.response_phase(stream, reply)),
            Ok(None) => Opened::Forward(stream),
        })
    }

    /// The upstream answered `stream`: runs the response headers and body callbacks, then
    /// `proxy_on_done`, `proxy_on_log` and `proxy_on_delete`. Returns the response as the
    /// client gets it.
    pub fn on_response(
        &mut self,
        stream: StreamId,
        response: Response,
    ) -> Result<Response, HostError> {
        if stream.generation != self.generation {
            // The VM that opened this stream failed meanwhile: fail it closed as Envoy does.
            self.host_log(
                LogLevel::Critical,
                format!(
                    "proxy-wasm: stream {} failed closed: its VM failed before the response",
                    stream.context_id
                ),
            );
            return Ok(fail_closed_response());
        }
        let open = self.running.as_ref().is_some_and(|running| {
            running
                .store
                .data()
                .streams
                .contains_key(&stream.context_id)
        });
        if !open {
            return Err(HostError::UnknownStream(stream));
        }
        Ok(self.response_phase(stream, response))
    }

    /// [`FilterVm::on_request`], then `upstream` unless the filter answered, then
    /// [`FilterVm::on_response`].
    pub fn handle(
        &mut self,
        request: Request,
        upstream: &mut dyn Upstream,
    ) -> Result<Response, HostError> {
        match self.open_stream(request)? {
            Opened::Answered(response) => Ok(response),
            Opened::Forward(stream) => {
                let response = self.send_upstream(stream, upstream);
                self.on_response(stream, response)
            }
        }
    }

    /// Sends the request of open `stream` to `upstream`: its strings and body are moved out
    /// of the stream's map and back, not copied (the stream keeps its request headers for
    /// the response callbacks).
    fn send_upstream(&mut self, stream: StreamId, upstream: &mut dyn Upstream) -> Response {
        let stream_state = self.open_stream_state(stream.context_id);
        let body = std::mem::take(&mut stream_state.request_body);
        let (request, pseudo_places) =
            request_moved_from_map(&mut stream_state.request_headers, body);
        let response = upstream.send(&request);
        stream_state.request_body =
            restore_map(&mut stream_state.request_headers, request, pseudo_places);
        response
    }

    /// The state of stream `context_id`, which the caller knows is open on the running VM.
    fn open_stream_state(&mut self, context_id: u32) -> &mut StreamState {
        let running = self.running.as_mut().expect("a stream is open");
        running
            .store
            .data_mut()
            .streams
            .get_mut(&context_id)
            .expect("stream is open")
    }

    /// The log lines since the last call: the filter's `proxy_log` calls, its WASI
    /// stdout/stderr lines, and the host's lines about failures and restarts.
    pub fn take_logs(&mut self) -> Vec<LogEntry> {
        let mut logs = std::mem::take(&mut self.logs);
        if let Some(running) = &mut self.running {
            running.store.data_mut().drain_output(true);
            logs.append(&mut running.store.data_mut().logs.take());
        }
        logs
    }

    fn host_log(&mut self, level: LogLevel, message: String) {
        match &mut self.running {
            Some(running) => running
                .store
                .data_mut()
                .logs
                .push_host_line(LogEntry { level, message }),
            None => self.logs.push(LogEntry { level, message }),
        }
    }

    /// Runs the response callbacks on `response` (from upstream or a local reply of the
    /// request phase), then ends the stream.
    fn response_phase(&mut self, stream: StreamId, response: Response) -> Response {
        let context_id = stream.context_id;
        let local_reply = response.local_reply;
        let has_body = !response.body.is_empty();
        let body_size = response.body.len();
        let n_headers = response.headers.len() + 1;
        let running = self.running.as_mut().expect("stream of a running VM");
        if let Some(state) = running.store.data_mut().streams.get_mut(&context_id) {
            state.response_headers = Some(response_map(response.status, response.headers));
            state.response_body = response.body;
        }
        let callbacks = Arc::clone(&running.callbacks);
        let on_response_headers = &callbacks.on_response_headers;
        let on_response_body = &callbacks.on_response_body;
        let phase = self.deliver_message(
            context_id,
            [on_response_headers, on_response_body],
            n_headers,
            has_body.then_some(body_size),
            Direction::Response,
        );
        let reply = match phase {
            Err(failure) => return self.fail(Some(stream), failure),
            Ok(reply) => reply,
        };
        if let Some(reply) = reply {
            self.end_stream(stream);
            return reply;
        }
        let state = self.open_stream_state(context_id);
        let body = std::mem::take(&mut state.response_body);
        // The client gets the response headers as they are before the log phase. proxy_on_log
        // can change them only where the filter paused in their callback (Envoy keeps them
        // writable then): copied now in that case; otherwise the stream's own map becomes the
        // response after the log phase, moved.
        let copied = (state.response_headers_access == HeaderAccess::Held)
            .then(|| state.response_headers.clone().unwrap_or_default());
        let ended = self.end_stream(stream);
        let headers = copied
            .or_else(|| ended.and_then(|state| state.response_headers))
            .unwrap_or_default();
        Response {
            body,
            local_reply,
            ..response_from_map(headers)
        }
    }

    /// `proxy_on_done`, `proxy_on_log`, `proxy_on_delete`, and the stream is forgotten: its
    /// state is returned. A failure here cannot change the response any more; it still
    /// restarts the VM.
    fn end_stream(&mut self, stream: StreamId) -> Option<StreamState> {
        let context_id = stream.context_id;
        let id = context_id as i32;
        let running = self.running.as_mut()?;
        let callbacks = Arc::clone(&running.callbacks);
        let (on_log, on_done, on_delete) =
            (&callbacks.on_log, &callbacks.on_done, &callbacks.on_delete);
        // The spec's order: proxy_on_done, then (it returned true, or the filter called
        // proxy_done) proxy_on_log and proxy_on_delete. With nothing that could complete
        // later (no HTTP calls), a false from proxy_on_done does not defer the end.
        let ending = (|| -> Result<(), Failure> {
            if let Some(function) = on_done {
                self.call(context_id, |store| function.call(store, id).map(drop))?;
            }
            if let Some(function) = on_log {
                self.log_phase(context_id);
                self.call(context_id, |store| function.call(store, id))?;
            }
            if let Some(function) = on_delete {
                self.call(context_id, |store| function.call(store, id))?;
            }
            Ok(())
        })();
        let state = self
            .running
            .as_mut()
            .and_then(|running| running.store.data_mut().streams.remove(&context_id));
        if let Err(failure) = ending {
            self.fail(Some(stream), failure);
        }
        state
    }

    /// One direction's message, as Envoy delivers one whose body is all there: the headers
    /// callback (end of stream when there is no body), then the body callback with the whole
    /// body; a local reply from either ends the delivery. Envoy's rules on what the headers
    /// callback returned: Continue releases the message's headers; a pause in the request
    /// headers with a body to come stalls the stream unless `allow_on_headers_stop_iteration`.
    fn deliver_message(
        &mut self,
        context_id: u32,
        [on_headers, on_body]: [&Option<MessageCallback>; 2],
        n_headers: usize,
        body_size: Option<usize>,
        direction: Direction,
    ) -> Result<Option<Response>, Failure> {
        let id = context_id as i32;
        if let Some(function) = on_headers {
            let end_of_stream = i32::from(body_size.is_none());
            let action = self.call(context_id, |store| {
                function.call(store, (id, n_headers as i32, end_of_stream))
            })?;
            if let Some(reply) = self.take_local_reply(context_id) {
                return Ok(Some(reply));
            }
            if action == ACTION_CONTINUE {
                self.set_header_access(context_id, direction, HeaderAccess::Released);
            } else if direction == Direction::Request
                && body_size.is_some()
                && !self.allow_on_headers_stop_iteration
            {
                return Ok(Some(self.stalled(context_id)));
            }
        }
        if let (Some(body_size), Some(function)) = (body_size, on_body) {
            self.call(context_id, |store| {
                function.call(store, (id, body_size as i32, 1))
            })?;
            if let Some(reply) = self.take_local_reply(context_id) {
                return Ok(Some(reply));
            }
        }
        Ok(None)
    }

    /// Sets what the filter may do with `direction`'s headers of stream `context_id`.
    fn set_header_access(&mut self, context_id: u32, direction: Direction, access: HeaderAccess) {
        let Some(running) = self.running.as_mut() else {
            return;
        };
        if let Some(stream) = running.store.data_mut().streams.get_mut(&context_id) {
            match direction {
                Direction::Request => stream.request_headers_access = access,
                Direction::Response => stream.response_headers_access = access,
            }
        }
    }

    /// Before `proxy_on_log`: released headers become readable again (Envoy's access-log
    /// view of the exchange).
    fn log_phase(&mut self, context_id: u32) {
        let Some(running) = self.running.as_mut() else {
            return;
        };
        if let Some(stream) = running.store.data_mut().streams.get_mut(&context_id) {
            for access in [
                &mut stream.request_headers_access,
                &mut stream.response_headers_access,
            ] {
                if *access == HeaderAccess::Released {
                    *access = HeaderAccess::Logged;
                }
            }
        }
    }

    /// A request whose headers callback paused with a body to come, in a VM without
    /// `allow_on_headers_stop_iteration`: Envoy would wait for ever (its stream idle timeout,
    /// minutes); this host says so and answers 500 at once.
    fn stalled(&mut self, context_id: u32) -> Response {
        self.host_log(
            LogLevel::Critical,
            format!(
                "proxy-wasm: stream {context_id} stalled: the filter paused in the request \
                 headers callback with a body to come; Envoy (without \
                 allow_on_headers_stop_iteration) stops all iteration there and never \
                 delivers the body"
            ),
        );
        hostcalls::local_reply(
            500,
            Vec::new(),
            b"the stream stalled: the filter waits for a body the proxy holds back\n".to_vec(),
        )
    }

    fn take_local_reply(&mut self, context_id: u32) -> Option<Response> {
        let state = self.running.as_mut()?.store.data_mut();
        let stream = state.streams.get_mut(&context_id)?;
        if let Some(reply) = stream.local_reply.take() {
            return Some(reply);
        }
        if std::mem::take(&mut stream.reset) {
            // A reset stream has no response in HTTP/1.1 terms; the client gets a 503.
            return Some(fail_closed_response());
        }
        None
    }

    /// Runs one callback with a fresh fuel budget and `context_id` as the effective context.
    fn call<T>(
        &mut self,
        context_id: u32,
        callback: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> Result<T, Failure> {
        let limits = self.module.inner.limits;
        let running = self
            .running
            .as_mut()
            .expect("callbacks run on a running VM");
        let store = &mut running.store;
        if limits.fuel_per_callback > 0 {
            set_fuel(store, limits.fuel_per_callback);
        }
        if let Some(limit) = limits.callback_time_limit {
            let ticks = limit.as_nanos().div_ceil(EPOCH_TICK.as_nanos()).max(1);
            store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX / 2));
        }
        store.data_mut().effective_context_id = context_id;
        let result = callback(store);
        store.data_mut().drain_output(false);
        result.map_err(|error| Failure(classify(&error, store.data(), limits)))
    }

    /// Drops the failed VM (keeping its log) and answers `stream`, if any, with a local 503.
    fn fail(&mut self, stream: Option<StreamId>, failure: Failure) -> Response {
        if let Some(mut running) = self.running.take() {
            running.store.data_mut().drain_output(true);
            self.logs.append(&mut running.store.data_mut().logs.take());
        }
        self.generation += 1;
        let subject = match stream {
            Some(stream) => format!("stream {} failed closed", stream.context_id),
            None => "root context failed".to_string(),
        };
        self.host_log(
            LogLevel::Critical,
            format!(
                "proxy-wasm: {subject}: {}; the VM is restarted for the next request",
                failure.0
            ),
        );
        fail_closed_response()
    }
}

fn set_fuel(store: &mut Store<HostState>, fuel: u64) {
    // Only called with fuel metering on, where setting fuel cannot fail.
    let _ = store.set_fuel(fuel);
}

/// Names why a callback failed, for the log.
fn classify(error: &wasmtime::Error, state: &HostState, limits: HostLimits) -> String {
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => {
            return format!(
                "CPU limit exceeded ({} fuel per callback)",
                limits.fuel_per_callback
            )
        }
        Some(Trap::Interrupt) => {
            return format!(
                "CPU limit exceeded ({:?} per callback)",
                limits.callback_time_limit.unwrap_or_default()
            )
        }
        _ => {}
    }
    if state.limiter.exceeded {
        return format!(
            "memory limit exceeded ({} bytes) and the filter trapped: {}",
            limits.max_memory_bytes,
            first_line(error)
        );
    }
    match error.downcast_ref::<Trap>() {
        Some(trap) => format!("trap: {trap}"),
        None => format!("error: {}", first_line(error)),
    }
}

fn first_line(error: &wasmtime::Error) -> String {
    let text = format!("{error:#}");
    text.lines().next().unwrap_or_default().to_string()
}

/// How a stream's request phase ended.
enum Opened {
    /// The filter answered (or the stream failed closed); the stream is finished.
    Answered(Response),
    /// The request goes upstream; the stream is open.
    Forward(StreamId),
}

/// What the client gets for a stream that failed: Envoy's `failStream` answer, 503 with no
/// body.
fn fail_closed_response() -> Response {
    Response {
        status: 503,
        headers: vec![("content-length".into(), "0".into())],
        body: Vec::new(),
        local_reply: true,
    }
}

/// Room a stream's header maps are made with for headers a filter adds: without it, the
/// first one added moves the whole map to a larger allocation.
const ADDED_HEADERS_ROOM: usize = 4;

/// The request as the filter sees it: pseudo-headers, then the other headers lower-cased.
/// The request's header map (pseudo-headers first) and its body, moved, not copied.
fn request_map(request: Request) -> (Vec<(String, String)>, Vec<u8>) {
    let mut map = Vec::with_capacity(request.headers.len() + 4 + ADDED_HEADERS_ROOM);
    map.extend([
        (":authority".to_string(), request.authority),
        (":path".to_string(), request.path),
        (":method".to_string(), request.method),
        (":scheme".to_string(), request.scheme),
    ]);
    map.extend(lower_case_names(request.headers));
    (map, request.body)
}

/// [`request_from_map`] with the strings moved out of `map` (which keeps empty ones in their
/// places), and where each pseudo-header's value came from, for [`restore_map`].
fn request_moved_from_map(
    map: &mut [(String, String)],
    body: Vec<u8>,
) -> (Request, [Option<usize>; 4]) {
    let mut request = Request {
        headers: Vec::with_capacity(map.len()),
        body,
        ..Request::default()
    };
    // The last of each pseudo-header wins, as in `request_from_map`.
    let mut pseudo_places = [None; 4];
    for (place, (name, _)) in map.iter().enumerate() {
        if let Some(pseudo) = PSEUDO_HEADERS.iter().position(|pseudo| name == pseudo) {
            pseudo_places[pseudo] = Some(place);
        }
    }
    for (pseudo, place) in pseudo_places.iter().enumerate() {
        if let Some(place) = *place {
            *pseudo_field(&mut request, pseudo) = std::mem::take(&mut map[place].1);
        }
    }
    for (name, value) in map.iter_mut() {
        if !name.starts_with(':') {
            request
                .headers
                .push((std::mem::take(name), std::mem::take(value)));
        }
    }
    (request, pseudo_places)
}

/// Puts the strings [`request_moved_from_map`] took back into `map`; returns the body.
fn restore_map(
    map: &mut [(String, String)],
    mut request: Request,
    pseudo_places: [Option<usize>; 4],
) -> Vec<u8> {
    for (pseudo, place) in pseudo_places.iter().enumerate() {
        if let Some(place) = *place {
            map[place].1 = std::mem::take(pseudo_field(&mut request, pseudo));
        }
    }
    let mut headers = request.headers.into_iter();
    for entry in map.iter_mut() {
        // Only the other headers' names were taken, and a taken name is empty.
        if !entry.0.starts_with(':') {
            if let Some(header) = headers.next() {
                *entry = header;
            }
        }
    }
    request.body
}

/// The pseudo-headers a request's fields hold, in [`pseudo_field`]'s order.
const PSEUDO_HEADERS: [&str; 4] = [":method", ":path", ":authority", ":scheme"];

fn pseudo_field(request: &mut Request, pseudo: usize) -> &mut String {
    match pseudo {
        0 => &mut request.method,
        1 => &mut request.path,
        2 => &mut request.authority,
        _ => &mut request.scheme,
    }
}

fn request_from_map(map: &[(String, String)], body: Vec<u8>) -> Request {
    let mut request = Request {
        body,
        ..Request::default()
    };
    for (name, value) in map {
        match name.as_str() {
            ":method" => request.method = value.clone(),
            ":path" => request.path = value.clone(),
            ":authority" => request.authority = value.clone(),
            ":scheme" => request.scheme = value.clone(),
            _ if name.starts_with(':') => {}
            _ => request.headers.push((name.clone(), value.clone())),
        }
    }
    request
}

/// The response's header map (`:status` first), its headers moved, not copied.
fn response_map(status: u16, headers: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut map = Vec::with_capacity(headers.len() + 1 + ADDED_HEADERS_ROOM);
    map.push((":status".to_string(), status.to_string()));
    map.extend(lower_case_names(headers));
    map
}

fn response_from_map(map: Vec<(String, String)>) -> Response {
    let mut response = Response::default();
    for (name, value) in map {
        if name == ":status" {
            // A filter that writes a non-number leaves the client a 502, as a broken
            // upstream status would.
            response.status = value.parse().unwrap_or(502);
        } else if !name.starts_with(':') {
            response.headers.push((name, value));
        }
    }
    if response.status == 0 {
        response.status = 502;
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|&(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn a_request_moved_out_of_its_map_is_the_copied_one_and_goes_back_as_it_was() {
        let original = pairs(&[
            (":authority", "a.example"),
            (":path", "/first"),
            ("accept", "*/*"),
            (":method", "GET"),
            (":custom", "kept"),
            ("", "nameless"),
            (":path", "/second"),
            ("x-tag", "1"),
        ]);
        let body = b"body".to_vec();
        let mut map = original.clone();
        let (moved, places) = request_moved_from_map(&mut map, body.clone());
        assert_eq!(moved, request_from_map(&original, body.clone()));
        assert_eq!(moved.path, "/second", "the last :path wins");
        assert_eq!(moved.scheme, "", "no :scheme");
        assert_eq!(restore_map(&mut map, moved, places), body);
        assert_eq!(map, original);
    }
}

//! Functions a host calls by name (`Fork::call_function`, docs/abi.md "Functions the host
//! calls by name") on real programs: the symbol table of a built guest, a stripped and a
//! corrupted copy of it, and the example tenant origin.c's functions under the fork's budget
//! and the per-hook call rules.

use rvedge_test_support as support;

use std::process::Command;
use std::sync::Arc;

use rvedge::registers::SP;
use rvedge::runtime::abi::Hook;
use rvedge::runtime::{
    ErrorKind, FunctionCallError, HttpRequest, Limits, MemoryHost, Tenant, MAX_FUNCTION_STRING,
};
use rvedge::{FunctionLookupError, FunctionTable, Program};

fn origin_program() -> Vec<u8> {
    let path = support::tenants_dir().join("origin");
    std::fs::read(&path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
}

fn origin_tenant(limits: Limits) -> Arc<Tenant> {
    Tenant::load("origin", &origin_program(), limits, None).expect("origin.c loads")
}

fn host(url: &str) -> MemoryHost {
    MemoryHost::new(HttpRequest {
        method: "GET".into(),
        url: url.into(),
        headers: Vec::new(),
        body: Vec::new(),
    })
}

/// The address `nm` gives for `name` in `path`, the cross toolchain's own reading of the table.
fn nm_address(path: &std::path::Path, name: &str) -> u64 {
    let output = Command::new("riscv64-linux-gnu-nm")
        .arg(path)
        .output()
        .expect("run riscv64-linux-gnu-nm (scripts/bootstrap.sh installs it)");
    let listing = String::from_utf8_lossy(&output.stdout);
    listing
        .lines()
        .find_map(|line| {
            let mut fields = line.split_whitespace();
            let (address, kind, symbol) = (fields.next()?, fields.next()?, fields.next()?);
            (symbol == name && matches!(kind, "T" | "W"))
                .then(|| u64::from_str_radix(address, 16).ok())
                .flatten()
        })
        .unwrap_or_else(|| panic!("nm lists no function {name}"))
}

#[test]
fn a_real_programs_functions_are_found_where_nm_puts_them() {
    let elf = support::guest("embed/vmcall");
    let program = Program::from_elf(&elf).expect("vmcall loads");
    let path = support::guests_dir().join("embed/vmcall");
    for name in ["add_and_count", "main", "printf"] {
        assert_eq!(
            program.function_address(name),
            Ok(nm_address(&path, name)),
            "{name}"
        );
    }
    assert_eq!(
        program.function_address("counter"),
        Err(FunctionLookupError::NotFound),
        "a variable is not a function"
    );
    assert_eq!(
        program.function_address("malloc"),
        Err(FunctionLookupError::NotFound),
        "static glibc's malloc is a local symbol: no C-linkage function to call"
    );
    assert_eq!(
        program.function_address("no_such_function"),
        Err(FunctionLookupError::NotFound)
    );
}

#[test]
fn a_stripped_program_loads_and_says_it_has_no_symbols() {
    let directory = std::env::temp_dir().join(format!("rvedge-strip-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let stripped = directory.join("origin-stripped");
    let status = Command::new("riscv64-linux-gnu-strip")
        .arg("-o")
        .arg(&stripped)
        .arg(support::tenants_dir().join("origin"))
        .status()
        .expect("run riscv64-linux-gnu-strip");
    assert!(status.success());
    let bytes = std::fs::read(&stripped).unwrap();
    std::fs::remove_dir_all(&directory).ok();

    let program = Program::from_elf(&bytes).expect("a stripped program still loads");
    assert!(matches!(program.functions, FunctionTable::Stripped));
    let tenant = Tenant::load("stripped", &bytes, Limits::default(), None).unwrap();
    let error = tenant
        .fork()
        .call_function("greet", "x", Hook::Recv, &mut host("/"))
        .unwrap_err();
    let FunctionCallError::NotCallable { reason, .. } = &error else {
        panic!("expected NotCallable, got {error:?}");
    };
    assert!(reason.contains("stripped"), "{reason}");
    assert!(error
        .to_string()
        .starts_with("tenant \"stripped\": cannot call greet(): "));
}

#[test]
fn a_corrupt_symbol_table_is_reported_and_the_program_still_runs() {
    let original = origin_program();
    let section_headers = u64::from_le_bytes(original[40..48].try_into().unwrap()) as usize;
    let section_count = u16::from_le_bytes(original[60..62].try_into().unwrap()) as usize;

    // e_shentsize no longer the ELF64 size.
    let mut wrong_entry_size = original.clone();
    wrong_entry_size[58..60].copy_from_slice(&40u16.to_le_bytes());
    // The symbol table's size pointing far past the end of the file.
    let mut huge_table = original.clone();
    let symtab = (0..section_count)
        .map(|index| section_headers + index * 64)
        .find(|&header| {
            u32::from_le_bytes(original[header + 4..header + 8].try_into().unwrap()) == 2
        })
        .expect("origin has a .symtab");
    huge_table[symtab + 32..symtab + 40].copy_from_slice(&(1u64 << 40).to_le_bytes());
    // Section headers beyond the end of the file.
    let mut headers_outside = original.clone();
    headers_outside[40..48].copy_from_slice(&(original.len() as u64).to_le_bytes());

    for (what, bytes) in [
        ("entry size", wrong_entry_size),
        ("table size", huge_table),
        ("header offset", headers_outside),
    ] {
        let program = Program::from_elf(&bytes).unwrap_or_else(|error| panic!("{what}: {error}"));
        let error = program.function_address("greet").unwrap_err();
        assert!(
            matches!(error, FunctionLookupError::Malformed(_)),
            "{what}: {error:?}"
        );
        assert!(error.to_string().contains("malformed"), "{what}: {error}");
        // The hooks do not need symbols: the tenant boots and serves.
        let tenant = Tenant::load("corrupt", &bytes, Limits::default(), None).unwrap();
        let mut fork = tenant.fork();
        assert_eq!(
            fork.run_hook(Hook::Recv, &mut host("/")),
            Ok(true),
            "{what}"
        );
    }
}

#[test]
fn origin_functions_return_their_strings() {
    let tenant = origin_tenant(Limits::default());
    let mut fork = tenant.fork();
    let mut client = host("/some/page?q=1");
    let stack_pointer = fork.machine().register(SP);

    let mut call = |name: &str, argument: &str, hook: Hook| {
        fork.call_function(name, argument, hook, &mut client)
    };
    assert_eq!(call("greet", "world", Hook::Recv).unwrap(), "hello, world");
    assert_eq!(call("echo", "", Hook::Recv).unwrap(), "");
    // A tenant call inside the function, served by the same host under on_recv's rules...
    assert_eq!(
        call("request_url", "", Hook::Recv).unwrap(),
        "/some/page?q=1"
    );
    assert_eq!(
        call("request_url", "", Hook::Deliver).unwrap(),
        "/some/page?q=1"
    );
    // ...and refused under on_backend_fetch's (req does not exist there): NULL is "".
    assert_eq!(call("request_url", "", Hook::BackendFetch).unwrap(), "");
    // libc's functions have C linkage too: getenv finds nothing in an empty environment.
    assert_eq!(call("getenv", "HOME", Hook::Recv).unwrap(), "");

    let unknown = call("no_such_function", "x", Hook::Recv).unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "tenant \"origin\": cannot call no_such_function(): no function of that name in the \
         program's symbol table"
    );

    // Many calls on one fork leave the stack where it was.
    for round in 0..200 {
        let argument = format!("round {round}");
        assert_eq!(
            fork.call_function("echo", &argument, Hook::Recv, &mut client)
                .unwrap(),
            argument
        );
    }
    assert_eq!(fork.machine().register(SP), stack_pointer);
}

#[test]
fn arguments_round_trip_up_to_the_limit() {
    let tenant = origin_tenant(Limits::default());
    let mut fork = tenant.fork();
    let mut client = host("/");
    let text: String = (0..MAX_FUNCTION_STRING)
        .map(|index| char::from(b'a' + (index % 26) as u8))
        .collect();
    assert_eq!(
        fork.call_function("echo", &text, Hook::Recv, &mut client)
            .unwrap(),
        text
    );
    let too_long = format!("{text}!");
    let error = fork
        .call_function("echo", &too_long, Hook::Recv, &mut client)
        .unwrap_err();
    assert!(
        matches!(&error, FunctionCallError::NotCallable { reason, .. } if reason.contains("more than")),
        "{error:?}"
    );
    // Non-ASCII UTF-8 survives too.
    assert_eq!(
        fork.call_function("greet", "wörld ✓", Hook::Recv, &mut client)
            .unwrap(),
        "hello, wörld ✓"
    );
}

fn failure(result: Result<String, FunctionCallError>) -> rvedge::runtime::RequestError {
    match result {
        Err(FunctionCallError::Failed(error)) => error,
        other => panic!("expected a request failure, got {other:?}"),
    }
}

#[test]
fn a_failing_function_fails_the_request_with_the_usual_kinds() {
    let tenant = origin_tenant(Limits::default());
    let mut client = host("/");

    // strlen returns a length, which is no pointer: the result is a wild pointer.
    let error = failure(
        tenant
            .fork()
            .call_function("strlen", "abc", Hook::Recv, &mut client),
    );
    assert_eq!(error.kind, ErrorKind::BadArgument);
    assert!(
        error
            .detail
            .contains("strlen() returned a pointer to unmapped memory (0x3)"),
        "{}",
        error.detail
    );

    let error = failure(
        tenant
            .fork()
            .call_function("abort", "", Hook::Recv, &mut client),
    );
    assert_eq!(error.kind, ErrorKind::Crashed);
    assert!(error.detail.starts_with("abort(): "), "{}", error.detail);

    // The budget is the fork's: what on_recv used counts too.
    let tight = origin_tenant(Limits {
        max_instructions: 50,
        ..Limits::default()
    });
    let mut fork = tight.fork();
    assert_eq!(fork.run_hook(Hook::Recv, &mut client), Ok(true));
    let error = failure(fork.call_function("greet", "world", Hook::Recv, &mut client));
    assert_eq!(error.kind, ErrorKind::Timeout);
    assert_eq!(error.tenant, "origin");
    assert_eq!(error.during, "on_recv");
    assert!(fork.instructions() <= 50);

    // The template is untouched: a new fork calls the function normally.
    assert_eq!(
        tenant
            .fork()
            .call_function("greet", "again", Hook::Recv, &mut client)
            .unwrap(),
        "hello, again"
    );
}

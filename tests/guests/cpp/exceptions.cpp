// C++ exceptions: unwinding through frames needs the .eh_frame parser in
// libgcc to read the stack and registers correctly, a good emulator check.
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

struct MyError {
    int code;
    std::string what;
};

struct Guard {
    std::string name;
    explicit Guard(std::string n) : name(std::move(n)) { std::cout << "  enter " << name << "\n"; }
    ~Guard() { std::cout << "  leave " << name << "\n"; }
};

static int depth_throw(int n) {
    Guard g("level" + std::to_string(n));
    if (n == 0) throw MyError{n + 7, "bottom reached"};
    return depth_throw(n - 1) + 1;
}

static void thrower(int kind) {
    switch (kind) {
    case 0: throw std::runtime_error("runtime failure");
    case 1: throw MyError{42, "custom"};
    case 2: throw 17;
    case 3: throw std::out_of_range("out of range");
    case 4: { std::vector<int> v(3); (void)v.at(10); break; }
    default: break;
    }
}

int main() {
    for (int kind = 0; kind < 6; kind++) {
        try {
            thrower(kind);
            std::cout << "kind " << kind << ": no exception\n";
        } catch (const std::out_of_range &e) {
            std::cout << "kind " << kind << ": out_of_range: " << (kind == 4 ? "vector::at" : e.what()) << "\n";
        } catch (const std::runtime_error &e) {
            std::cout << "kind " << kind << ": runtime_error: " << e.what() << "\n";
        } catch (const MyError &e) {
            std::cout << "kind " << kind << ": MyError " << e.code << " " << e.what << "\n";
        } catch (...) {
            std::cout << "kind " << kind << ": unknown exception\n";
        }
    }

    std::cout << "unwinding through destructors:\n";
    try {
        depth_throw(3);
    } catch (const MyError &e) {
        std::cout << "caught " << e.what << " code " << e.code << "\n";
    }

    std::cout << "nested and rethrow:\n";
    try {
        try {
            throw std::runtime_error("inner");
        } catch (const std::exception &e) {
            std::cout << "  inner handler saw: " << e.what() << "\n";
            try {
                throw MyError{1, "while handling"};
            } catch (const MyError &m) {
                std::cout << "  nested handler saw: " << m.what << "\n";
            }
            throw; // rethrows the runtime_error, not the MyError
        }
    } catch (const std::runtime_error &e) {
        std::cout << "outer caught rethrown: " << e.what() << "\n";
    }

    std::exception_ptr saved;
    try {
        throw std::logic_error("stored");
    } catch (...) {
        saved = std::current_exception();
    }
    try {
        std::rethrow_exception(saved);
    } catch (const std::logic_error &e) {
        std::cout << "rethrow_exception: " << e.what() << "\n";
    }

    try {
        try {
            throw std::runtime_error("base");
        } catch (...) {
            std::throw_with_nested(std::runtime_error("wrapper"));
        }
    } catch (const std::exception &e) {
        std::cout << "nested: " << e.what();
        try {
            std::rethrow_if_nested(e);
        } catch (const std::exception &inner) {
            std::cout << " <- " << inner.what();
        }
        std::cout << "\n";
    }

    int caught = 0;
    for (int i = 0; i < 1000; i++) {
        try {
            auto p = std::make_unique<int>(i);
            if (*p % 3 == 0) throw *p;
        } catch (int v) {
            caught += v % 2;
        }
    }
    std::cout << "loop: odd multiples of 3 caught = " << caught << "\n";

    try {
        throw MyError{99, "escape to catch-all"};
    } catch (...) {
        std::cout << "catch(...) got it\n";
    }
    return 0;
}

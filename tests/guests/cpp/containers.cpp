// Standard library containers and algorithms: heavy on heap allocation,
// virtual/indirect calls (std::function) and inlined template code.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

int main() {
    std::string s = "The quick brown fox jumps over the lazy dog";
    std::vector<std::string> words;
    {
        std::istringstream in(s);
        std::string w;
        while (in >> w) words.push_back(w);
    }
    std::cout << "words: " << words.size() << "\n";

    std::map<char, int> freq;
    for (char c : s)
        if (c != ' ') freq[static_cast<char>(std::tolower(c))]++;
    std::cout << "letters:";
    for (const auto &[c, n] : freq) std::cout << ' ' << c << '=' << n;
    std::cout << "\n";

    std::vector<std::string> sorted = words;
    std::sort(sorted.begin(), sorted.end(), [](const std::string &a, const std::string &b) {
        return a.size() != b.size() ? a.size() < b.size() : a < b;
    });
    std::cout << "by length:";
    for (const auto &w : sorted) std::cout << ' ' << w;
    std::cout << "\n";

    std::string upper = s;
    std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
    std::reverse(upper.begin(), upper.end());
    std::cout << "reversed upper: " << upper << "\n";
    std::cout << "find 'fox' at " << s.find("fox") << ", substr: " << s.substr(10, 9) << "\n";

    std::vector<long> v(1000);
    std::iota(v.begin(), v.end(), -500);
    std::vector<long> sq;
    std::transform(v.begin(), v.end(), std::back_inserter(sq), [](long x) { return x * x; });
    long sum = std::accumulate(sq.begin(), sq.end(), 0L);
    auto evens = std::count_if(v.begin(), v.end(), [](long x) { return x % 2 == 0; });
    auto mm = std::minmax_element(sq.begin(), sq.end());
    std::cout << "sum squares=" << sum << " evens=" << evens << " min=" << *mm.first << " max=" << *mm.second << "\n";
    std::stable_sort(v.begin(), v.end(), [](long a, long b) { return (a % 7 + 7) % 7 < (b % 7 + 7) % 7; });
    std::cout << "stable by mod 7, first 8:";
    for (int i = 0; i < 8; i++) std::cout << ' ' << v[i];
    std::cout << "\n";
    auto lb = std::lower_bound(sq.begin() + 500, sq.end(), 10000);
    std::cout << "lower_bound 10000 at index " << (lb - sq.begin()) << "\n";

    std::map<std::string, std::function<long(long, long)>> ops = {
        {"add", [](long a, long b) { return a + b; }},
        {"sub", [](long a, long b) { return a - b; }},
        {"mul", std::multiplies<long>()},
        {"max", [](long a, long b) { return std::max(a, b); }},
    };
    for (const auto &[name, f] : ops) std::cout << name << "(17, -5) = " << f(17, -5) << "\n";

    std::function<long(int)> fib = [&](int n) -> long { return n < 2 ? n : fib(n - 1) + fib(n - 2); };
    std::cout << "fib(25) = " << fib(25) << "\n";

    // unordered_map iteration order is implementation-defined: print sorted.
    std::unordered_map<std::string, int> um;
    for (int i = 0; i < 200; i++) um["key" + std::to_string(i % 37)] += i;
    std::set<std::pair<std::string, int>> ordered(um.begin(), um.end());
    std::cout << "unordered_map size " << um.size() << ", first: " << ordered.begin()->first << "=" << ordered.begin()->second
              << ", last: " << ordered.rbegin()->first << "=" << ordered.rbegin()->second << "\n";

    std::vector<std::vector<int>> grid(10, std::vector<int>(10));
    for (int i = 0; i < 10; i++)
        for (int j = 0; j < 10; j++) grid[i][j] = (i * 7 + j * 3) % 11;
    std::vector<int> flat;
    for (auto &row : grid) flat.insert(flat.end(), row.begin(), row.end());
    std::sort(flat.begin(), flat.end());
    flat.erase(std::unique(flat.begin(), flat.end()), flat.end());
    std::cout << "unique grid values: " << flat.size() << "\n";

    char buf[64];
    std::snprintf(buf, sizeof buf, "%08.3f|%-6s|%x", 3.14159, "ab", 48879);
    std::cout << "snprintf: " << buf << "\n";
    std::cout << "stoi/stod: " << std::stoi("-1234") + 1 << " " << std::stod("2.5e3") * 2 << "\n";
    return 0;
}

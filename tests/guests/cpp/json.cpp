// nlohmann::json (header-only): builds, dumps, parses and iterates a document,
// exercising std::map, std::string, double formatting and exceptions.
#include <iostream>
#include <nlohmann/json.hpp>

using json = nlohmann::json;

int main() {
    json doc;
    doc["name"] = "rvedge";
    doc["version"] = {{"major", 0}, {"minor", 1}, {"patch", 0}};
    doc["pi"] = 3.141592653589793;
    doc["small"] = 1.5e-300;
    doc["neg"] = -42;
    doc["big"] = 18446744073709551615ull;
    doc["flags"] = {true, false, nullptr};
    doc["unicode"] = "h\u00e9llo \u2603 \"quoted\"\n\ttab";
    doc["list"] = json::array();
    for (int i = 0; i < 5; i++) doc["list"].push_back({{"id", i}, {"sq", i * i}, {"half", i / 2.0}});

    std::string pretty = doc.dump(2);
    std::cout << pretty << "\n";
    std::string compact = doc.dump();
    std::cout << "compact length " << compact.size() << "\n";
    std::cout << "ascii-escaped: " << doc["unicode"].dump(-1, ' ', true) << "\n";

    json back = json::parse(pretty);
    std::cout << "round trip equal: " << (back == doc ? "yes" : "no") << "\n";

    for (auto it = back.begin(); it != back.end(); ++it)
        std::cout << "key " << it.key() << " type " << it.value().type_name() << "\n";

    long sum = 0;
    double halves = 0;
    for (const auto &item : back["list"]) {
        sum += item["sq"].get<long>();
        halves += item.at("half").get<double>();
    }
    std::cout << "sum of squares " << sum << ", sum of halves " << halves << "\n";

    json patch = json::diff(doc, json::parse(R"({"name":"other","pi":3})"));
    std::cout << "diff ops: " << patch.size() << "\n";

    const char *bad[] = {"{\"a\": 1,}", "[1, 2", "{\"a\" 1}", "tru", "\"unterminated"};
    for (const char *text : bad) {
        try {
            json r = json::parse(text);
            std::cout << "parsed?! " << r.dump() << "\n";
        } catch (const json::parse_error &e) {
            std::cout << "parse_error id " << e.id << " at byte " << e.byte << ": " << e.what() << "\n";
        }
    }
    try {
        (void)back.at("missing");
    } catch (const json::out_of_range &e) {
        std::cout << "out_of_range: " << e.what() << "\n";
    }
    try {
        int x = back["name"].get<int>();
        std::cout << x << "\n";
    } catch (const json::type_error &e) {
        std::cout << "type_error: " << e.what() << "\n";
    }
    json numbers = json::parse("[0.1, -0.0, 123456789012345678901234567890, 5e-324, 1E+2]");
    std::cout << "numbers: " << numbers.dump() << "\n";
    try {
        json r = json::parse("[1e400]");
        std::cout << "parsed?! " << r.dump() << "\n";
    } catch (const json::out_of_range &e) {
        std::cout << "out_of_range: " << e.what() << "\n";
    }
    return 0;
}

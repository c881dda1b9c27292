// Aligned text tables: column widths come from the content.
#pragma once

#include <string>
#include <vector>

namespace nest::cli {

// Thread-compatible value type.
class Table {
 public:
  explicit Table(std::vector<std::string> header);

  // A row with fewer cells than the header is padded with empty cells.
  void AddRow(std::vector<std::string> row);
  size_t rows() const { return rows_.size(); }

  // Header and rows, columns separated by three spaces, no trailing
  // whitespace, one "\n" after every line. Width counts UTF-8 characters.
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace nest::cli

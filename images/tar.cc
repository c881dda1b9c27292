#include "images/tar.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/validate.h"

namespace nest::images {
namespace {

constexpr size_t kBlock = 512;
constexpr uint64_t kMaxMetaSize = 1 << 20;  // PAX/GNU name records

std::string CString(const char* p, size_t max) {
  return std::string(p, strnlen(p, max));
}

absl::StatusOr<uint64_t> ParseNumber(const char* p, size_t len,
                                     const char* field) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  if (u[0] & 0x80) {
    // GNU base-256: big-endian, first byte's top bit is the marker.
    if (u[0] & 0x40) {
      return absl::InvalidArgumentError(
          absl::StrCat("tar header field ", field, " is negative"));
    }
    uint64_t v = u[0] & 0x3f;
    for (size_t i = 1; i < len; ++i) {
      if (v >> 56) {
        return absl::InvalidArgumentError(
            absl::StrCat("tar header field ", field, " overflows"));
      }
      v = (v << 8) | u[i];
    }
    return v;
  }
  uint64_t v = 0;
  size_t i = 0;
  while (i < len && (p[i] == ' ' || p[i] == '\0')) ++i;
  for (; i < len && p[i] >= '0' && p[i] <= '7'; ++i) {
    if (v >> 60) {
      return absl::InvalidArgumentError(
          absl::StrCat("tar header field ", field, " overflows"));
    }
    v = v * 8 + static_cast<uint64_t>(p[i] - '0');
  }
  for (; i < len; ++i) {
    if (p[i] != ' ' && p[i] != '\0') {
      return absl::InvalidArgumentError(
          absl::StrCat("tar header field ", field, " must be octal, got ",
                       QuoteForMessage(absl::string_view(p, len))));
    }
  }
  return v;
}

bool ChecksumOk(const char* h) {
  auto stored = ParseNumber(h + 148, 8, "chksum");
  if (!stored.ok()) return false;
  uint64_t usum = 0;
  int64_t ssum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    unsigned char c =
        (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
    usum += c;
    ssum += static_cast<signed char>(c);
  }
  return *stored == usum || static_cast<int64_t>(*stored) == ssum;
}

// PAX records: "<len> <key>=<value>\n".
absl::Status ParsePax(const std::string& data, TarEntry* e, bool* has_size,
                      bool* has_path, bool* has_link) {
  size_t pos = 0;
  while (pos < data.size()) {
    size_t sp = data.find(' ', pos);
    uint64_t len = 0;
    if (sp == std::string::npos ||
        !absl::SimpleAtoi(absl::string_view(data).substr(pos, sp - pos),
                          &len) ||
        len == 0 || pos + len > data.size() || data[pos + len - 1] != '\n') {
      return absl::InvalidArgumentError("malformed PAX extended header record");
    }
    std::string rec = data.substr(sp + 1, pos + len - 1 - (sp + 1));
    pos += len;
    size_t eq = rec.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError("PAX record without '='");
    }
    std::string key = rec.substr(0, eq), value = rec.substr(eq + 1);
    if (key == "path") {
      e->path = value;
      *has_path = true;
    } else if (key == "linkpath") {
      e->link = value;
      *has_link = true;
    } else if (key == "size") {
      if (!absl::SimpleAtoi(value, &e->size)) {
        return absl::InvalidArgumentError("PAX size is not a number");
      }
      *has_size = true;
    } else if (key == "uid") {
      if (!absl::SimpleAtoi(value, &e->uid)) {
        return absl::InvalidArgumentError("PAX uid is not a number");
      }
    } else if (key == "gid") {
      if (!absl::SimpleAtoi(value, &e->gid)) {
        return absl::InvalidArgumentError("PAX gid is not a number");
      }
    } else if (key == "mtime") {
      double t = 0;
      if (absl::SimpleAtod(value, &t)) e->mtime = static_cast<int64_t>(t);
    }
    // Other keys (atime, xattrs, ...) are not needed to build a rootfs.
  }
  return absl::OkStatus();
}

}  // namespace

TarReader::TarReader(ByteSource& src) : src_(src), buf_(1 << 20) {}

absl::StatusOr<size_t> TarReader::Fill(char* out, size_t n) {
  size_t done = 0;
  while (done < n) {
    if (pos_ == len_) {
      if (eof_) break;
      NEST_ASSIGN_OR_RETURN(size_t got, src_.Read(buf_.data(), buf_.size()));
      if (got == 0) {
        eof_ = true;
        break;
      }
      pos_ = 0;
      len_ = got;
    }
    size_t take = std::min(n - done, len_ - pos_);
    if (out != nullptr) std::memcpy(out + done, buf_.data() + pos_, take);
    pos_ += take;
    done += take;
  }
  offset_ += done;
  return done;
}

absl::Status TarReader::Skip(uint64_t n) {
  size_t from_buf = static_cast<size_t>(std::min<uint64_t>(n, len_ - pos_));
  pos_ += from_buf;
  offset_ += from_buf;
  n -= from_buf;
  if (n == 0) return absl::OkStatus();
  // Past the buffer: let the source seek (archives are indexed this way
  // without reading the blobs inside them).
  absl::Status st = src_.Skip(n);
  if (!st.ok()) return absl::DataLossError("tar stream ends inside an entry");
  offset_ += n;
  return absl::OkStatus();
}

absl::StatusOr<std::string> TarReader::ReadSmall(uint64_t size,
                                                 const char* what) {
  if (size > kMaxMetaSize) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " record of ", size, " bytes exceeds 1 MiB"));
  }
  std::string s(size, '\0');
  NEST_ASSIGN_OR_RETURN(size_t got, Fill(s.data(), s.size()));
  if (got != size)
    return absl::DataLossError("tar stream ends inside a header");
  NEST_RETURN_IF_ERROR(Skip((kBlock - size % kBlock) % kBlock));
  return s;
}

absl::StatusOr<bool> TarReader::Next(TarEntry* e) {
  NEST_RETURN_IF_ERROR(Skip(data_left_ + pad_left_));
  data_left_ = pad_left_ = 0;
  *e = TarEntry{};
  bool has_size = false, has_path = false, has_link = false;
  for (;;) {
    char h[kBlock];
    NEST_ASSIGN_OR_RETURN(size_t got, Fill(h, kBlock));
    if (got == 0) return false;  // no end marker: tolerated, like GNU tar
    if (got != kBlock)
      return absl::DataLossError("tar stream ends inside a header");
    if (std::all_of(h, h + kBlock, [](char c) { return c == 0; })) {
      return false;  // end-of-archive marker
    }
    if (!ChecksumOk(h)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tar header checksum mismatch at offset ", offset_ - kBlock));
    }
    NEST_ASSIGN_OR_RETURN(uint64_t size, ParseNumber(h + 124, 12, "size"));
    char type = h[156] == '\0' ? '0' : h[156];
    if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
      NEST_ASSIGN_OR_RETURN(std::string meta,
                            ReadSmall(size, "extended header"));
      if (type == 'x') {
        NEST_RETURN_IF_ERROR(
            ParsePax(meta, e, &has_size, &has_path, &has_link));
      } else if (type == 'L') {
        e->path = CString(meta.data(), meta.size());
        has_path = true;
      } else if (type == 'K') {
        e->link = CString(meta.data(), meta.size());
        has_link = true;
      }
      continue;  // 'g' (global) records carry nothing we use
    }
    if (!has_path) {
      e->path = CString(h, 100);
      // POSIX ustar splits long names into prefix + name; GNU tar uses the
      // prefix area for other fields, so only trust it with the POSIX magic.
      if (std::memcmp(h + 257, "ustar\0", 6) == 0 && h[345] != '\0') {
        e->path = CString(h + 345, 155) + "/" + e->path;
      }
    }
    if (!has_link) e->link = CString(h + 157, 100);
    if (!has_size) e->size = size;
    NEST_ASSIGN_OR_RETURN(uint64_t mode, ParseNumber(h + 100, 8, "mode"));
    e->mode = static_cast<uint32_t>(mode & 07777);
    if (e->uid == 0) {
      NEST_ASSIGN_OR_RETURN(uint64_t uid, ParseNumber(h + 108, 8, "uid"));
      e->uid = static_cast<uint32_t>(uid);
    }
    if (e->gid == 0) {
      NEST_ASSIGN_OR_RETURN(uint64_t gid, ParseNumber(h + 116, 8, "gid"));
      e->gid = static_cast<uint32_t>(gid);
    }
    if (e->mtime == 0) {
      NEST_ASSIGN_OR_RETURN(uint64_t mt, ParseNumber(h + 136, 12, "mtime"));
      e->mtime = static_cast<int64_t>(mt);
    }
    e->type = type == '7' ? '0' : type;  // contiguous file == regular file
    // Like Go's archive/tar: these types are header-only whatever the size
    // field says, so nothing of the stream belongs to them.
    bool header_only = type == '1' || type == '2' || type == '3' ||
                       type == '4' || type == '5' || type == '6';
    if (header_only) e->size = 0;
    data_left_ = e->size;
    pad_left_ = (kBlock - data_left_ % kBlock) % kBlock;
    e->data_offset = offset_;
    return true;
  }
}

absl::StatusOr<size_t> TarReader::ReadData(char* buf, size_t n) {
  if (data_left_ == 0) return 0;
  n = static_cast<size_t>(std::min<uint64_t>(n, data_left_));
  NEST_ASSIGN_OR_RETURN(size_t got, Fill(buf, n));
  if (got != n) return absl::DataLossError("tar stream ends inside file data");
  data_left_ -= got;
  return got;
}

// ---- writer ----

namespace {

void PutOctal(char* p, size_t len, uint64_t v) {
  std::string s;
  do {
    s.insert(s.begin(), static_cast<char>('0' + (v & 7)));
    v >>= 3;
  } while (v != 0);
  while (s.size() < len - 1) s.insert(s.begin(), '0');
  std::memcpy(p, s.data(), std::min(s.size(), len - 1));
  p[len - 1] = '\0';
}

std::string Header(const std::string& name, char type, const std::string& link,
                   uint64_t size, uint32_t mode, int64_t mtime) {
  std::string h(kBlock, '\0');
  std::memcpy(h.data(), name.data(), std::min<size_t>(name.size(), 100));
  PutOctal(h.data() + 100, 8, mode);
  PutOctal(h.data() + 108, 8, 0);
  PutOctal(h.data() + 116, 8, 0);
  PutOctal(h.data() + 124, 12, size);
  PutOctal(h.data() + 136, 12, static_cast<uint64_t>(mtime));
  h[156] = type;
  std::memcpy(h.data() + 157, link.data(), std::min<size_t>(link.size(), 100));
  std::memcpy(h.data() + 257,
              "ustar\0"
              "00",
              8);
  std::memset(h.data() + 148, ' ', 8);
  uint64_t sum = 0;
  for (unsigned char c : h) sum += c;
  PutOctal(h.data() + 148, 7, sum);
  h[155] = ' ';
  return h;
}

}  // namespace

void TarWriter::AddRaw(const std::string& path, char type,
                       const std::string& link, const std::string& data,
                       uint32_t mode) {
  std::string name = path, target = link;
  if (name.size() > 100 || target.size() > 100) {
    std::string pax;
    auto rec = [&pax](const std::string& key, const std::string& value) {
      std::string body = " " + key + "=" + value + "\n";
      size_t len = body.size() + 1;
      while (std::to_string(len).size() + body.size() != len) ++len;
      pax += std::to_string(len) + body;
    };
    if (name.size() > 100) rec("path", name);
    if (target.size() > 100) rec("linkpath", target);
    out_ += Header("PaxHeader", 'x', "", pax.size(), 0644, mtime);
    out_ += pax;
    out_.append((kBlock - pax.size() % kBlock) % kBlock, '\0');
    name = name.substr(0, 100);
    target = target.substr(0, 100);
  }
  out_ += Header(name, type, target, data.size(), mode, mtime);
  out_ += data;
  out_.append((kBlock - data.size() % kBlock) % kBlock, '\0');
}

void TarWriter::AddDirectory(const std::string& path, uint32_t mode) {
  AddRaw(path, '5', "", "", mode);
}
void TarWriter::AddFile(const std::string& path, const std::string& data,
                        uint32_t mode) {
  AddRaw(path, '0', "", data, mode);
}
void TarWriter::AddSymlink(const std::string& path, const std::string& target) {
  AddRaw(path, '2', target, "", 0777);
}
void TarWriter::AddHardLink(const std::string& path,
                            const std::string& target) {
  AddRaw(path, '1', target, "", 0644);
}

std::string TarWriter::Finish() {
  out_.append(2 * kBlock, '\0');
  return std::move(out_);
}

}  // namespace nest::images

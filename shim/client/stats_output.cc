#include "shim/client/stats_output.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace cryptine {

std::string stats_line(const std::vector<StatValue>& stats) {
  std::string out = "cryptine stats:";
  for (const StatValue& s : stats) out.append(" ").append(s.name).append("=").append(std::to_string(s.value));
  return out + "\n";
}

std::string stats_json(const std::vector<StatValue>& stats) {
  std::string out = "{";
  for (const StatValue& s : stats) {
    if (out.size() > 1) out += ",";
    out.append("\"").append(s.name).append("\":").append(std::to_string(s.value));
  }
  return out + "}\n";
}

std::string stats_prometheus(const std::vector<StatValue>& stats, long pid) {
  std::string out;
  const std::string labels = "{pid=\"" + std::to_string(pid) + "\"} ";
  for (const StatValue& s : stats) {
    const std::string metric = "cryptine_" + std::string(s.name) + "_total";
    out.append("# HELP ").append(metric).append(" ").append(s.help).append("\n");
    out.append("# TYPE ").append(metric).append(" counter\n");
    out.append(metric).append(labels).append(std::to_string(s.value)).append("\n");
  }
  return out;
}

std::string expand_stats_path(std::string_view path_template, long pid) {
  std::string out;
  for (size_t i = 0; i < path_template.size(); ++i) {
    if (path_template[i] == '%' && i + 1 < path_template.size() && path_template[i + 1] == 'p') {
      out += std::to_string(pid);
      ++i;
    } else if (path_template[i] == '%' && i + 1 < path_template.size() && path_template[i + 1] == '%') {
      out += '%';
      ++i;
    } else {
      out += path_template[i];
    }
  }
  return out;
}

Status write_file_atomically(const std::string& path, std::string_view text) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Error::from_errno("creating " + tmp);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Error e = Error::from_errno("writing " + tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return e;
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = Error::from_errno("renaming " + tmp + " to " + path);
    ::unlink(tmp.c_str());
    return e;
  }
  return {};
}

}  // namespace cryptine

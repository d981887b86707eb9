// StatusServer: the HTTP status port over cpp-httplib. httplib's listen loop blocks its
// thread, so it runs inside RunBlocking on a private fiber Env's I/O thread. Its requests
// (blocking socket reads and writes, handlers that only read atomics and metrics) run the
// same way: httplib's task queue is replaced by EnvTaskQueue, which hands each accepted
// socket to a fiber of that Env that runs it under RunBlocking, so every thread comes from
// the Env (DESIGN.md §3) and at most kRequestThreads requests run at once.

#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/server.h"
#include "util/env_internal.h"
#include "util/metrics.h"
#include "util/sync.h"

namespace rutile::server {

namespace {

// I/O threads of the status port's Env that serve requests (one more runs the listen loop).
constexpr int kRequestThreads = 2;

class EnvTaskQueue : public httplib::TaskQueue {
 public:
  explicit EnvTaskQueue(Env* env) : env_(env) {}

  void enqueue(std::function<void()> fn) override {
    pending_.Add(1);
    env_->Spawn([this, fn = std::move(fn)] {
      env_->RunBlocking(fn);
      pending_.Done();
    });
  }

  // Called by httplib when the listen loop ends: waits for the requests in flight.
  void shutdown() override { pending_.Wait(); }

 private:
  Env* env_;
  WaitGroup pending_;
};

}  // namespace

struct StatusServer::Impl {
  StatusOptions options;
  httplib::Server http;
  std::unique_ptr<Env> net_env;
  Notification done;
  uint16_t port = 0;
  bool stopped = false;
};

StatusServer::StatusServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

StatusServer::~StatusServer() { Stop(); }

absl::StatusOr<std::unique_ptr<StatusServer>> StatusServer::Start(const StatusOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  Impl* raw = impl.get();
  raw->http.Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics::Registry::Default().RenderText(),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  raw->http.Get("/status", [raw](const httplib::Request&, httplib::Response& res) {
    std::string body = "{\"status\":\"ok\"";
    if (raw->options.mysql != nullptr) {
      MySqlServer::Stats s = raw->options.mysql->GetStats();
      absl::StrAppendFormat(&body,
                            ",\"mysql_port\":%d,\"connections\":%d,\"total_connections\":%d,"
                            "\"questions\":%d,\"uptime_seconds\":%d",
                            raw->options.mysql->port(), s.connections, s.total_connections,
                            s.questions, s.uptime_seconds);
    }
    body += "}\n";
    res.set_content(body, "application/json");
  });
  raw->http.Get("/regions", [raw](const httplib::Request&, httplib::Response& res) {
    if (!raw->options.regions) {
      res.status = 404;
      res.set_content("{\"error\":\"no region information in this process\"}\n",
                      "application/json");
      return;
    }
    res.set_content(raw->options.regions(), "application/json");
  });
  int port = 0;
  if (options.port == 0) {
    port = raw->http.bind_to_any_port(options.host);
  } else if (raw->http.bind_to_port(options.host, options.port)) {
    port = options.port;
  }
  if (port <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.host, ":", options.port, " (status port)"));
  }
  raw->port = static_cast<uint16_t>(port);
  ThreadedEnvOptions net;
  net.worker_threads = 1;
  net.io_threads = 1 + kRequestThreads;
  raw->net_env = NewThreadedEnv(net);
  Env* env = raw->net_env.get();
  raw->http.new_task_queue = [env] { return new EnvTaskQueue(env); };
  raw->net_env->Spawn([raw] {
    raw->net_env->RunBlocking([raw] { raw->http.listen_after_bind(); });
    raw->done.Notify();
  });
  return std::unique_ptr<StatusServer>(new StatusServer(std::move(impl)));
}

void StatusServer::Stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  // stop() only takes effect once the listen loop runs; retry until it has returned.
  while (!impl_->done.WaitFor(impl_->net_env.get(), 10'000)) impl_->http.stop();
  impl_->net_env.reset();
}

uint16_t StatusServer::port() const { return impl_->port; }

}  // namespace rutile::server

// Running the atomcloud command under test: a process with its output captured, and the
// in-process emulator with the environment that points the command at it. Shared by the
// CLI's test files.
//
// ATOMCLOUD_CLI (environment) is the path of the binary under test.
#ifndef ATOMCLOUD_TESTS_CLI_PROCESS_HPP
#define ATOMCLOUD_TESTS_CLI_PROCESS_HPP

#include <atomcloud/emulator/server.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <poll.h>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace atomcloud_cli_test {

using namespace std::chrono_literals;

inline std::string cli_path() {
    const char* p = std::getenv("ATOMCLOUD_CLI");
    REQUIRE(p != nullptr);
    REQUIRE(std::filesystem::exists(p));
    return p;
}

struct result {
    int status = -1;
    std::string out;
    std::string err;
};

// A running atomcloud process with its output captured.
class process {
public:
    process(const process&) = delete;
    process& operator=(const process&) = delete;
    // Runs `program` (the command under test if empty) with `args` and `env` (plus the
    // sanitizers' settings and PATH/HOME of the test's own environment, where `env` does
    // not set them).
    process(const std::vector<std::string>& args, const std::vector<std::string>& env,
            std::string program = {}) {
        int out_pipe[2], err_pipe[2];
        REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
        REQUIRE(::pipe2(err_pipe, O_CLOEXEC) == 0);
        posix_spawn_file_actions_t actions;
        ::posix_spawn_file_actions_init(&actions);
        ::posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
        ::posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
        ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        std::vector<std::string> argv_s = {program.empty() ? cli_path() : program};
        argv_s.insert(argv_s.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : argv_s)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        std::vector<std::string> env_s = env;
        for (const char* keep : {"PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "HOME"}) {
            const std::string prefix = std::string(keep) + "=";
            bool given = false;
            for (const auto& e : env)
                given = given || e.rfind(prefix, 0) == 0;
            if (const char* v = std::getenv(keep); v && !given)
                env_s.push_back(prefix + v);
        }
        std::vector<char*> envp;
        for (auto& e : env_s)
            envp.push_back(e.data());
        envp.push_back(nullptr);
        const int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
        ::posix_spawn_file_actions_destroy(&actions);
        ::close(out_pipe[1]);
        ::close(err_pipe[1]);
        REQUIRE(rc == 0);
        out_fd_ = out_pipe[0];
        err_fd_ = err_pipe[0];
    }
    ~process() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        if (out_fd_ >= 0)
            ::close(out_fd_);
        if (err_fd_ >= 0)
            ::close(err_fd_);
    }

    void signal(int sig) { ::kill(pid_, sig); }

    // Reads output until the process exits (or `limit` passes: then it is killed and the
    // test fails).
    result wait(std::chrono::milliseconds limit = 60s) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (out_fd_ >= 0 || err_fd_ >= 0) {
            pump(100ms);
            if (std::chrono::steady_clock::now() > deadline) {
                FAIL("atomcloud did not exit in time; stdout: " << r_.out
                                                                << "\nstderr: " << r_.err);
            }
        }
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        r_.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return r_;
    }

    // Reads what is available for up to `d`.
    void pump(std::chrono::milliseconds d) {
        std::vector<pollfd> fds;
        if (out_fd_ >= 0)
            fds.push_back({out_fd_, POLLIN, 0});
        if (err_fd_ >= 0)
            fds.push_back({err_fd_, POLLIN, 0});
        if (fds.empty())
            return;
        if (::poll(fds.data(), fds.size(), static_cast<int>(d.count())) <= 0)
            return;
        for (auto& p : fds) {
            if (!(p.revents & (POLLIN | POLLHUP)))
                continue;
            char buf[4096];
            const ssize_t n = ::read(p.fd, buf, sizeof buf);
            std::string& into = p.fd == out_fd_ ? r_.out : r_.err;
            if (n > 0) {
                into.append(buf, static_cast<std::size_t>(n));
            } else {
                ::close(p.fd);
                (p.fd == out_fd_ ? out_fd_ : err_fd_) = -1;
            }
        }
    }

    const result& so_far() const { return r_; }
    /// Takes the standard output read so far (the next call returns what came after).
    std::string take_out() { return std::exchange(r_.out, {}); }
    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
    int out_fd_ = -1;
    int err_fd_ = -1;
    result r_;
};

// The emulator plus the environment that points the command at it.
struct cli_fixture {
    atomcloud::emulator::server cloud;
    std::string ca_file;
    std::vector<std::string> env;

    explicit cli_fixture(atomcloud::emulator::options opts = {}) : cloud(std::move(opts)) {
        ca_file = (std::filesystem::temp_directory_path() /
                   ("atomcloud-cli-ca-" + std::to_string(::getpid()) + "-" +
                    std::to_string(cloud.port()) + ".pem"))
                      .string();
        std::ofstream(ca_file) << cloud.ca_pem();
        env = {"ATOMCLOUD_BASE_URL=" + cloud.base_url(), "ATOMCLOUD_TOKEN=" + cloud.token(),
               "ATOMCLOUD_CA_FILE=" + ca_file};
    }
    ~cli_fixture() { std::filesystem::remove(ca_file); }
    cli_fixture(const cli_fixture&) = delete;
    cli_fixture& operator=(const cli_fixture&) = delete;

    result run(const std::vector<std::string>& args, std::vector<std::string> extra_env = {}) {
        process p(args, with(std::move(extra_env)));
        return p.wait();
    }

    // The environment, with the given NAME=value entries replacing those of the same name.
    std::vector<std::string> with(std::vector<std::string> overrides) const {
        std::vector<std::string> e;
        for (const auto& entry : env) {
            const auto name = entry.substr(0, entry.find('=') + 1);
            bool replaced = false;
            for (const auto& o : overrides)
                replaced = replaced || o.rfind(name, 0) == 0;
            if (!replaced)
                e.push_back(entry);
        }
        e.insert(e.end(), overrides.begin(), overrides.end());
        return e;
    }

    // Waits until the emulator sees `n` subscribers of `number`.
    void wait_subscribers(const char* number, std::size_t n) {
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        while (cloud.subscribers(number) < n) {
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::sleep_for(10ms);
        }
    }
};

} // namespace atomcloud_cli_test

#endif

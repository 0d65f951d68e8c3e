// A helper process for integration tests (a WebSocket peer written in Python, a proxy ...):
// started with posix_spawn, its standard output read line by line with a time limit,
// terminated when the object goes away.
#ifndef ATOMCLOUD_TESTS_PEER_PROCESS_HPP
#define ATOMCLOUD_TESTS_PEER_PROCESS_HPP

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace atomcloud_test {

class peer_process {
public:
    /// Runs argv[0] (a path, or a name looked up in PATH) with `argv`.
    explicit peer_process(std::vector<std::string> argv) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0)
            throw std::runtime_error("pipe failed");
        posix_spawn_file_actions_t actions;
        ::posix_spawn_file_actions_init(&actions);
        ::posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
        ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        std::vector<char*> args;
        for (auto& a : argv)
            args.push_back(a.data());
        args.push_back(nullptr);
        const int rc = ::posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
        ::posix_spawn_file_actions_destroy(&actions);
        ::close(fds[1]);
        out_ = fds[0];
        if (rc != 0) {
            ::close(out_);
            throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
        }
    }

    peer_process(const peer_process&) = delete;
    peer_process& operator=(const peer_process&) = delete;

    /// SIGTERM, and SIGKILL if it has not ended 3 s later: a helper that does not end on
    /// its signal must not hang the test.
    ~peer_process() {
        ::kill(pid_, SIGTERM);
        int status = 0;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
        while (::waitpid(pid_, &status, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() > deadline) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                break;
            }
            ::usleep(10000);
        }
        ::close(out_);
    }

    /// The next line of output (without its newline), or nothing if none came within
    /// `limit` or the process ended.
    std::optional<std::string>
    read_line(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        for (;;) {
            if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
                std::string line = buffer_.substr(0, nl);
                buffer_.erase(0, nl + 1);
                return line;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            pollfd p{out_, POLLIN, 0};
            // (Polls once even when the time is up, so that a short limit still reads.)
            if (::poll(&p, 1, static_cast<int>(std::max<long long>(left.count(), 0))) <= 0) {
                if (left.count() <= 0)
                    return std::nullopt;
                continue;
            }
            char chunk[4096];
            const ::ssize_t n = ::read(out_, chunk, sizeof chunk);
            if (n <= 0)
                return std::nullopt;
            buffer_.append(chunk, static_cast<std::size_t>(n));
        }
    }

    /// Reads lines until one starts with `prefix`; returns it (or nothing on time-out).
    std::optional<std::string>
    wait_for(const std::string& prefix,
             std::chrono::milliseconds limit = std::chrono::seconds(30)) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                return std::nullopt;
            auto line = read_line(left);
            if (!line)
                return std::nullopt;
            if (line->rfind(prefix, 0) == 0)
                return line;
        }
    }

private:
    pid_t pid_ = -1;
    int out_ = -1;
    std::string buffer_;
};

} // namespace atomcloud_test

#endif

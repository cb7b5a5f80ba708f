#!/usr/bin/env python3
"""`make install PREFIX=...` as a user runs it, after the build directory was
configured with the default prefix (as `make run` or `make test` leave it):

  - every file lands under PREFIX and nowhere else (install_manifest.txt);
  - the installed vcp runs without LD_LIBRARY_PATH (its RUNPATH);
  - the installed example, built as its comment says with pkg-config against
    the installed vcp.pc, runs without LD_LIBRARY_PATH and posts a picture
    to the installed vcpd (sandbox, 127.0.0.1, ephemeral port).

DESTDIR stages the install in a temp dir, so even a broken Makefile cannot
write to the real /usr/local while the tests run.

usage: test_install.py REPO BUILD_DIR [--sanitize]
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "client"))
from vcpfix import Vcpd  # noqa: E402


def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)
    print("ok:", what)


def main():
    repo, build = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    sanitize = "--sanitize" in sys.argv[3:]
    tmp = tempfile.mkdtemp(prefix="vcp-install-")
    dest, prefix = os.path.join(tmp, "stage"), os.path.join(tmp, "opt", "vcp")
    root = dest + prefix  # where DESTDIR + PREFIX puts the files
    # Nothing from the environment that would change what is tested: no
    # loader path, no outer make's jobserver, no VCPD_* settings.
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_LIBRARY_PATH", "MAKEFLAGS", "MFLAGS", "MAKELEVEL",
                        "PKG_CONFIG_PATH") and not k.startswith("VCPD_")}
    try:
        r = subprocess.run(["make", "-C", repo, "install", "BUILD=" + build, "PREFIX=" + prefix,
                            "JOBS=1"], env=dict(env, DESTDIR=dest), capture_output=True,
                           text=True, timeout=600)
        check(r.returncode == 0, "make install PREFIX=%s (%s)" % (prefix, r.stderr[-2000:]))
        manifest = open(os.path.join(build, "install_manifest.txt")).read().split()
        # (cmake lists them without DESTDIR)
        stray = [f for f in manifest if not f.startswith(prefix + "/")]
        check(manifest and not stray, "all %d files under PREFIX (outside: %s)" % (len(manifest),
                                                                                stray[:5]))
        pcs = glob.glob(os.path.join(root, "lib*", "**", "vcp.pc"), recursive=True)
        check(len(pcs) == 1, "vcp.pc installed: %s" % pcs)
        libdir = os.path.dirname(os.path.dirname(pcs[0]))
        for f in ("bin/vcp", "sbin/vcpd", "include/vcp/vcp.h", "include/vcp/status.h",
                  "share/man/man1/vcp.1", "share/man/man8/vcpd.8",
                  "share/doc/vcp/examples/post_picture.c"):
            check(os.path.isfile(os.path.join(root, f)), f + " installed")
        for f in ("libvcp.so.0", "libvcp.a"):
            check(os.path.isfile(os.path.join(libdir, f)), f + " installed")

        r = subprocess.run([os.path.join(root, "bin", "vcp"), "--version"], env=env,
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 0 and "libvcp" in r.stdout,
              "installed vcp runs without LD_LIBRARY_PATH (%s)" % r.stderr.strip())

        # The example, built the documented way against the installed files.
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "vcp"], capture_output=True,
                               text=True, check=True,
                               env=dict(env, PKG_CONFIG_PATH=os.path.dirname(pcs[0]))).stdout
        exe = os.path.join(tmp, "post_picture")
        cc = ["cc", os.path.join(root, "share/doc/vcp/examples/post_picture.c"), "-o", exe]
        if sanitize:  # libvcp.so was built with them; the program must load their runtime first
            cc.append("-fsanitize=address,undefined")
        r = subprocess.run(cc + flags.split(), env=env, capture_output=True, text=True,
                           timeout=120)
        check(r.returncode == 0, "example built with pkg-config (%s)" % r.stderr[-1000:])

        srv = Vcpd(os.path.join(root, "sbin", "vcpd"), tmp)
        ch = srv.channel("Installed", rate="off", webhook="http://127.0.0.1:9/unused")
        srv.start()
        try:
            r = subprocess.run([exe, ch["from"], "https://example.com/cat.jpg", "A cat"],
                               env=dict(env, VIBER_AUTH_TOKEN=ch["token"],
                                        VIBER_API_URL=srv.url),
                               capture_output=True, text=True, timeout=60)
            check(r.returncode == 0 and "posted, message_token" in r.stdout,
                  "installed example runs without LD_LIBRARY_PATH and posts (%s%s)"
                  % (r.stdout, r.stderr))
            posts = srv.posts(ch["id"])
            check(len(posts) == 1 and posts[0][3]["media"]
                  == "https://example.com/cat.jpg", "the picture is stored")
        finally:
            srv.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS install")


if __name__ == "__main__":
    main()

/*
 * What vcpd is: its release and the git commit it was built from, for
 * `vcpd --version` and GET /version.  The definitions are generated at every
 * build by src/server/version.cmake.
 */
#ifndef VCP_SERVER_VERSION_H
#define VCP_SERVER_VERSION_H

extern const char vcpd_version[];  /* "0.1.0": the project's release */
extern const char vcpd_git_hash[]; /* 12 hex digits, "-dirty" when the tree had
                                      uncommitted changes, or "unknown" outside git */

#endif

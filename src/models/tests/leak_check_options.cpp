// LeakSanitizer settings for models_test, the test binary that dlopens the TorchScript plugin.
//
// GCC 12's LeakSanitizer crashes ("Tracer caught signal 11") walking the dynamic TLS that
// glibc 2.36 gives a dlopened module, so this binary runs it with use_tls=0. Thread-local
// storage is then no root of reachability, and the blocks that libgomp, GLib and glibc's loader
// keep only there would be reported as leaks: they are suppressed here. No shelfwatch code
// allocates in them, so leaks of ours are still found. Other binaries keep the defaults.
#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __lsan_default_options() { return "use_tls=0"; }
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libgomp.so\n"
         "leak:libglib-2.0.so\n"
         "leak:_dl_resize_dtv\n"
         "leak:_dl_map_object_deps\n";
}
#endif

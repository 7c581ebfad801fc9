# Kernels started by the book build and by nbval: keep their logs quiet (see Makefile, IPYTHONDIR).
c = get_config()  # noqa: F821
c.IPKernelApp.log_level = "ERROR"

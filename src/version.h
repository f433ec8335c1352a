/* The release version, shown by `yesapp version` and in yesapp_build_info. */
#ifndef YESAPP_VERSION_H
#define YESAPP_VERSION_H

#define YESAPP_VERSION "0.1.0"

#endif

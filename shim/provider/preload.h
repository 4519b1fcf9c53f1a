// Preloaded (LD_PRELOAD, cryptine-run), libcryptine.so installs itself in the program's
// default library context as the built-in provider "cryptine", preferred for what it
// offers; `default` stays loaded for everything else, and the DRBGs stay default's.
#pragma once

namespace cryptine::provider {

// Whether this process preloaded the library and its provider was installed so (rather
// than loaded by OpenSSL as a module, where the program asked for it).
bool installed_by_preload();

}  // namespace cryptine::provider

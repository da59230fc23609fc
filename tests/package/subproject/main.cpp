// Built only by hand; the options test configures this project.
#include "statewire/value.hpp"

int main() { return 0; }

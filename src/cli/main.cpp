#include <cstdio>

int main() {
  std::fprintf(stderr, "usage: shelfwatch <command>\n");
  return 2;
}

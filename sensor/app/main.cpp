// rcptwatch entry point; everything else lives in the stage libraries.
#include "app/sensor_main.h"

int main(int argc, char** argv) { return rcptwatch::app::sensor_main(argc, argv); }

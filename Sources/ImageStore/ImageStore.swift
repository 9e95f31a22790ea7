import IMGAPI

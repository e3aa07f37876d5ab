#include "support/opencv_onnx.h"

#include <opencv2/dnn/dnn.hpp>  // cv::dnn::readNetFromONNX

#include <vector>  // std::vector

#include "img2img/export/onnx_export.h"  // kOnnxInputName, kOnnxOutputName

namespace img2img::test {

torch::Tensor run_onnx_in_opencv(const std::filesystem::path& path, const torch::Tensor& x) {
  cv::dnn::Net net = cv::dnn::readNetFromONNX(path.string());
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  const torch::Tensor xc = x.contiguous();
  const std::vector<int> shape(xc.sizes().begin(), xc.sizes().end());
  const cv::Mat blob(shape, CV_32F, xc.data_ptr<float>());
  net.setInput(blob, kOnnxInputName);
  const cv::Mat out = net.forward(kOnnxOutputName);
  std::vector<int64_t> out_shape;
  for (int i = 0; i < out.dims; ++i) out_shape.push_back(out.size[i]);
  return torch::from_blob(const_cast<float*>(out.ptr<float>()), out_shape, torch::kFloat32).clone();
}

}  // namespace img2img::test
